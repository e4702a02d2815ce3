from wechat.conversation.engine import ConversationEngine, State, StepError
from wechat.conversation.flow import Data, Flow, Step
from wechat.conversation.store import ConversationStore, MemoryStore, RedisStore

__all__ = [
    "ConversationEngine",
    "ConversationStore",
    "Data",
    "Flow",
    "MemoryStore",
    "RedisStore",
    "State",
    "Step",
    "StepError",
]
