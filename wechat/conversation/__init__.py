from wechat.conversation.answers import AnswerPolicy, InvalidAnswer, StepError
from wechat.conversation.engine import ConversationEngine, State
from wechat.conversation.flow import Data, Flow, Step
from wechat.conversation.store import ConversationStore, MemoryStore, RedisStore

__all__ = [
    "AnswerPolicy",
    "ConversationEngine",
    "ConversationStore",
    "Data",
    "Flow",
    "InvalidAnswer",
    "MemoryStore",
    "RedisStore",
    "State",
    "Step",
    "StepError",
]
