//! The Lua scripts that make each RedisStore change atomic. Redis runs a script to the end
//! before any other command, so a deletion and a renewal never interleave: a renewal finds
//! the session gone (no resurrection), and a single-session login deletes the user's other
//! sessions in the same step that creates its own (exactly one survives, on any instance).
//!
//! Keys, under the deployment's prefix `P` (`yam:` by default):
//! - `P s:<hex>`  hash `rec` (the record as JSON), `mac` (its seal, see `seal.rs`), `seen` and
//!   `exp` (ms since 1970), `uid`;
//!   its Redis expiry is the session's own (`PEXPIREAT exp`), so Redis drops it unaided;
//! - `P u:<uid>`  set of the user's session keys (hex), expiring with their last session;
//! - `P all`      sorted set of `<uid>:<hex>` scored by expiry: counts and listing in one read;
//! - `P q:<hex>`  a damaged session kept for inspection for a week;
//! - `P e:<hex>`  why a session ended (`displaced`, `revoked`…), so every server tells the user;
//! - `P all:changes` a counter every change increments: a watcher polls it (one tiny GET) and
//!   re-reads the index only when it moved.

use std::sync::LazyLock;

use redis::Script;

/// Shared by every script: the owner of a session key, and the removal of one session.
const PRELUDE: &str = r"
local function uid_of(k)
  if redis.call('TYPE', k).ok == 'hash' then return redis.call('HGET', k, 'uid') end
  return false
end
local function unlink(prefix, all, uid, hex)
  redis.call('SREM', prefix .. 'u:' .. uid, hex)
  redis.call('ZREM', all, uid .. ':' .. hex)
end
local function changed(all)
  redis.call('INCR', all .. ':changes')
end
local function extend_user_set(k, exp)
  local at = redis.call('PEXPIRETIME', k)
  if at >= 0 and at < tonumber(exp) then redis.call('PEXPIREAT', k, exp) end
  if at == -1 then redis.call('PEXPIREAT', k, exp) end
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// KEYS: session, user set, all. ARGV: rec, seen, exp, uid, hex, seal, displace (0/1), prefix.
/// Returns nil when the id is taken, else the keys of the user's sessions it displaced.
pub static CREATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local displaced = {}
if ARGV[7] == '1' then
  for _, hex in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    unlink(ARGV[8], KEYS[3], ARGV[4], hex)
    if redis.call('DEL', ARGV[8] .. 's:' .. hex) == 1 then displaced[#displaced + 1] = hex end
  end
end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'seen', ARGV[2], 'exp', ARGV[3], 'uid', ARGV[4],
  'mac', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[5])
extend_user_set(KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4] .. ':' .. ARGV[5])
changed(KEYS[3])
return displaced
",
    )
});

/// KEYS: session, all. ARGV: seen, exp, hex, prefix. Returns 0 when the session is gone.
/// Time never runs backwards: an older renewal arriving late changes nothing.
pub static RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local uid = uid_of(KEYS[1])
if not uid then return 0 end
local seen = tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if tonumber(ARGV[1]) > seen then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'exp', ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[2], uid .. ':' .. ARGV[3])
  extend_user_set(ARGV[4] .. 'u:' .. uid, ARGV[2])
  changed(KEYS[2])
end
return 1
",
    )
});

/// KEYS: session, all. ARGV: rec, seen, exp, uid, hex, seal, prefix. Returns 0 when the
/// session is gone (nothing is written). A damaged value (not a hash) is overwritten.
pub static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = uid_of(KEYS[1])
if old then unlink(ARGV[7], KEYS[2], old, ARGV[5]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'seen', ARGV[2], 'exp', ARGV[3], 'uid', ARGV[4],
  'mac', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
local users = ARGV[7] .. 'u:' .. ARGV[4]
redis.call('SADD', users, ARGV[5])
extend_user_set(users, ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4] .. ':' .. ARGV[5])
changed(KEYS[2])
return 1
",
    )
});

/// KEYS: session, all. ARGV: hex, prefix. Returns 1 when the session existed.
pub static DELETE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local uid = uid_of(KEYS[1])
if uid then unlink(ARGV[2], KEYS[2], uid, ARGV[1]) end
local n = redis.call('DEL', KEYS[1])
if n > 0 then changed(KEYS[2]) end
return n
",
    )
});

/// KEYS: user set, all. ARGV: uid, hex to keep ('' for none), prefix. Returns the keys deleted.
pub static DELETE_USER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local deleted = {}
for _, hex in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if hex ~= ARGV[2] then
    unlink(ARGV[3], KEYS[2], ARGV[1], hex)
    if redis.call('DEL', ARGV[3] .. 's:' .. hex) == 1 then deleted[#deleted + 1] = hex end
  end
end
if #deleted > 0 then changed(KEYS[2]) end
return deleted
",
    )
});

/// KEYS: all. ARGV: now (ms), prefix. Deletes sessions whose expiry has passed; returns them.
pub static PURGE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local purged = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  redis.call('ZREM', KEYS[1], member)
  local uid, hex = string.match(member, '^(-?%d+):(%x+)$')
  if hex then
    redis.call('SREM', ARGV[2] .. 'u:' .. uid, hex)
    redis.call('DEL', ARGV[2] .. 's:' .. hex)
    purged[#purged + 1] = hex
  end
end
if #purged > 0 then changed(KEYS[1]) end
return purged
",
    )
});

/// KEYS: all. ARGV: prefix. Deletes every indexed session; returns how many existed.
pub static DELETE_ALL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local n = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local uid, hex = string.match(member, '^(-?%d+):(%x+)$')
  if hex then
    redis.call('DEL', ARGV[1] .. 'u:' .. uid)
    n = n + redis.call('DEL', ARGV[1] .. 's:' .. hex)
  end
end
redis.call('DEL', KEYS[1])
changed(KEYS[1])
return n
",
    )
});

/// KEYS: session, all, quarantine. ARGV: hex, prefix, keep (ms). Returns 1 when moved.
pub static QUARANTINE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local uid = uid_of(KEYS[1])
if uid then unlink(ARGV[2], KEYS[2], uid, ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
changed(KEYS[2])
return 1
",
    )
});
