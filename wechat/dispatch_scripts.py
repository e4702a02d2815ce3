"""The dispatcher's Lua scripts: the round trip before a message's handler (claim) and the one
after it (finish). See wechat.dispatcher for the order of things."""

# KEYS: dedup, user lock, the request's (timestamp, nonce) pair, conversation, user seen.
# ARGV: lease (ms), lock token, lease (ms), pending marker, message fingerprint ('' = no pair to
# check here), pair ttl, seen window (s), '1' to read the conversation and mark the first message
# of the hour ('0' on a cluster, where those keys sit in other slots).
# The dedup marker and the lock are leases (wechat.leases): renewed while this process handles
# the message, so they outlive a slow handler but not a dead process.
# Returns {code, conversation document, first}: code -1: the (timestamp, nonce) pair came before
# with another message (a replay); 0: a repeat; 1: a new message, the user lock is held by
# another; 2: new, and the lock is ours (then the conversation document, read under the lock,
# and first = 1 for the user's first message in the seen window).
CLAIM = """
if ARGV[5] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if not seen then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6])
  elseif seen ~= ARGV[5] then return {-1} end
end
if not redis.call('SET', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[1]) then return {0} end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {1} end
if ARGV[8] ~= '1' then return {2} end
local first = 0
if redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[7]) then first = 1 end
return {2, redis.call('GET', KEYS[4]), first}
"""
# The same replay check, alone (on a cluster). KEYS: the pair. ARGV: fingerprint, its ttl.
CHECK_PAIR = """
local seen = redis.call('GET', KEYS[1])
if not seen then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
elseif seen ~= ARGV[1] then return -1 end
return 1
"""
# KEYS: user lock, dedup, conversation. ARGV: lock token, the answer for retries, dedup ttl (s),
# what the handler did to the conversation ('' nothing, 'set', 'del'), the document, its ttl (s).
# The conversation is written before the lock is released: the user's next message reads it.
# (On a cluster the conversation sits in another slot: the handler wrote it, ARGV[4] is '',
# and KEYS[3] repeats the dedup key.)
# Returns 1 if the lock was ours.
FINISH = """
if ARGV[4] == 'set' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6])
elseif ARGV[4] == 'del' then redis.call('DEL', KEYS[3]) end
local held = redis.call('GET', KEYS[1]) == ARGV[1]
if held then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
if held then return 1 end
return 0
"""
