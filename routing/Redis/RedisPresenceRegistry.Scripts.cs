namespace ChatWire.Routing.Redis;

// The Lua scripts: each runs atomically in Redis, so a user's hash, the published state and the PUBLISH never
// disagree, and every time is Redis's own clock (TIME), so nodes with skewed clocks agree on which leases
// have expired. Keys are always passed in KEYS.
public sealed partial class RedisPresenceRegistry
{
    // now_ms: Redis's clock. live_nodes: how many nodes hold the user under a live lease (other than `skip`).
    // settle: the user's status from the live nodes; when it differs from the last published one ('p'),
    // publish "status:last_seen" on the user's channel and remember it. Returns the new status, or -1 when
    // nothing changed. Offline resets the chosen status (back to online next time, §4.23) and lets the hash
    // expire; 'seen' keeps the last-seen time meanwhile.
    private const string Common = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function live_nodes(user_key, leases, now, skip)
          local count = 0
          for _, field in ipairs(redis.call('HKEYS', user_key)) do
            if string.sub(field, 1, 2) == 'n:' then
              local node = string.sub(field, 3)
              if node ~= skip then
                local expiry = redis.call('ZSCORE', leases, node)
                if expiry and tonumber(expiry) > now then count = count + 1 end
              end
            end
          end
          return count
        end
        local function settle(user_key, leases, channel, now, seen_at, retention_ms)
          local status = 0
          if live_nodes(user_key, leases, now, nil) > 0 then
            status = tonumber(redis.call('HGET', user_key, 's') or '1')
          end
          local published = tonumber(redis.call('HGET', user_key, 'p') or '0')
          if status == published then return -1 end
          local seen = 0
          if status == 0 then
            seen = seen_at
            redis.call('HDEL', user_key, 's', 'p')
            redis.call('HSET', user_key, 'seen', seen)
            redis.call('PEXPIRE', user_key, retention_ms)
          else
            redis.call('HSET', user_key, 'p', status)
            redis.call('HDEL', user_key, 'seen')
            redis.call('PERSIST', user_key)
          end
          redis.call('PUBLISH', channel, status .. ':' .. seen)
          return status
        end

        """;

    // KEYS: user hash, this node's user set, leases. ARGV: node, user id, channel, status to take when the user
    // was offline (1 on connect; the node's last known status on a re-sync), retention ms.
    private const string PresentScript = Common + """
        local now = now_ms()
        if live_nodes(KEYS[1], KEYS[3], now, nil) == 0 then
          if ARGV[4] == '1' then redis.call('HDEL', KEYS[1], 's') else redis.call('HSET', KEYS[1], 's', ARGV[4]) end
        end
        redis.call('HSET', KEYS[1], 'n:' .. ARGV[1], '1')
        redis.call('PERSIST', KEYS[1])
        redis.call('SADD', KEYS[2], ARGV[2])
        return settle(KEYS[1], KEYS[3], ARGV[3], now, now, tonumber(ARGV[5]))
        """;

    // KEYS: user hash, this node's user set, leases. ARGV: node, user id, channel, last seen ms, retention ms.
    // Returns 0 when the user thereby went offline.
    private const string AbsentScript = Common + """
        redis.call('HDEL', KEYS[1], 'n:' .. ARGV[1])
        redis.call('SREM', KEYS[2], ARGV[2])
        return settle(KEYS[1], KEYS[3], ARGV[3], now_ms(), tonumber(ARGV[4]), tonumber(ARGV[5]))
        """;

    // KEYS: user hash, leases. ARGV: node, status, channel, retention ms. Only a node holding the user sets it.
    private const string StatusScript = Common + """
        if redis.call('HEXISTS', KEYS[1], 'n:' .. ARGV[1]) == 0 then return -1 end
        if ARGV[2] == '1' then redis.call('HDEL', KEYS[1], 's') else redis.call('HSET', KEYS[1], 's', ARGV[2]) end
        local now = now_ms()
        return settle(KEYS[1], KEYS[2], ARGV[3], now, now, tonumber(ARGV[4]))
        """;

    // KEYS: leases, then one user hash per user. Returns status and last seen per user, flat.
    private const string ReadScript = Common + """
        local now = now_ms()
        local out = {}
        for i = 2, #KEYS do
          local status = 0
          local seen = 0
          if live_nodes(KEYS[i], KEYS[1], now, nil) > 0 then
            status = tonumber(redis.call('HGET', KEYS[i], 's') or '1')
          else
            seen = tonumber(redis.call('HGET', KEYS[i], 'seen') or '0')
          end
          out[#out + 1] = status
          out[#out + 1] = seen
        end
        return out
        """;

    // KEYS: leases, reaping. ARGV: node, lease ms. Returns 1 when the node had no live lease before (first start,
    // lease expired or reaped, data lost): its users must be written again. A claim another node holds on this
    // one is dropped: the node is alive and re-writes its users itself (a reaper still at work stops at the
    // lease it finds again).
    private const string RefreshScript = Common + """
        local now = now_ms()
        local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        if previous and tonumber(previous) > now then return 0 end
        redis.call('ZREM', KEYS[2], ARGV[1])
        return 1
        """;

    // KEYS: leases, reaping. ARGV: claim ms, at most this many per set, the caller's node. Moves every expired
    // lease, and every reaping claim whose reaper died (its claim expired), into 'reaping' under a fresh claim:
    // only the caller of this atomic script reaps those nodes. Never the caller's own: a node that runs this is
    // alive, however late its last refresh was, and its next refresh finds the lapse and re-writes its users.
    private const string ClaimScript = Common + """
        local now = now_ms()
        local claimed = {}
        for k = 1, 2 do
          for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))) do
            if node ~= ARGV[3] then
              redis.call('ZREM', KEYS[k], node)
              redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), node)
              claimed[#claimed + 1] = node
            end
          end
        end
        return claimed
        """;

    // KEYS: user hash, the dead node's user set, leases. ARGV: dead node, user id, channel, retention ms.
    // Returns {status or -1, now}, or {-2, now} when the node came back (it has a lease again): stop reaping it,
    // it re-writes its own users.
    private const string ReapUserScript = Common + """
        local now = now_ms()
        if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {-2, now} end
        redis.call('HDEL', KEYS[1], 'n:' .. ARGV[1])
        redis.call('SREM', KEYS[2], ARGV[2])
        return {settle(KEYS[1], KEYS[3], ARGV[3], now, now, tonumber(ARGV[4])), now}
        """;
}
