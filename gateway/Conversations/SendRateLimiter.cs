using System.Collections.Concurrent;
using System.Diagnostics;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Token buckets on SEND, per user (over all their devices) and per device, each in messages and in
/// content bytes (docs/security.md, "Sending"). A SEND passes only when all four have room, and then takes
/// from all four; otherwise it is refused with how long until it would pass. Buckets refill lazily when
/// used, so an idle user costs nothing; a bucket left alone long enough to be full again is forgotten by
/// a sweep each minute, so memory follows the users who are sending. A third bucket, in messages only, is kept per
/// conversation and taken after the membership check (<see cref="TryTakeConversation(Guid)"/>), and a fourth per
/// channel for changes of its settings (<see cref="TryTakeChannelChange(Guid)"/>).
/// </summary>
internal sealed class SendRateLimiter : IDisposable
{
    private readonly ConcurrentDictionary<Guid, Bucket> _users = new();
    private readonly ConcurrentDictionary<Guid, Bucket> _devices = new();
    private readonly ConcurrentDictionary<Guid, Bucket> _conversations = new();
    private readonly ConcurrentDictionary<Guid, Bucket> _channelChanges = new();
    private readonly Shape _user;
    private readonly Shape _device;
    private readonly Shape _conversation;
    private readonly Shape _channelChange;
    private readonly long _forgetUsersAfter;
    private readonly long _forgetDevicesAfter;
    private readonly long _forgetConversationsAfter;
    private readonly long _forgetChannelChangesAfter;
    private readonly Timer _sweep;

    public SendRateLimiter(IOptions<LimitsOptions> options)
    {
        var o = options.Value;
        _user = new Shape(o.SendMessagesPerSecondPerUser, o.SendMessageBurstPerUser, o.SendBytesPerSecondPerUser, o.SendByteBurstPerUser);
        _device = new Shape(o.SendMessagesPerSecondPerDevice, o.SendMessageBurstPerDevice, o.SendBytesPerSecondPerDevice, o.SendByteBurstPerDevice);
        _conversation = new Shape(o.SendMessagesPerSecondPerConversation, o.SendMessageBurstPerConversation, 0, 0);
        _forgetUsersAfter = FullAfter(_user);
        _forgetDevicesAfter = FullAfter(_device);
        _channelChange = new Shape(o.ChannelChangesPerMinutePerChannel / 60, o.ChannelChangeBurstPerChannel, 0, 0);
        _forgetConversationsAfter = FullAfter(_conversation);
        _forgetChannelChangesAfter = FullAfter(_channelChange);
        _sweep = new Timer(_ => Sweep(Stopwatch.GetTimestamp()), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    /// <summary>Buckets held now (users, devices, conversations and channels' settings), for tests and metrics.</summary>
    public int Tracked => _users.Count + _devices.Count + _conversations.Count + _channelChanges.Count;

    /// <summary>Takes one SEND of <paramref name="bytes"/> content; null when it may go on, else the milliseconds until it would pass.</summary>
    public uint? TryTake(Guid userId, Guid deviceId, long bytes) => TryTake(userId, deviceId, bytes, Stopwatch.GetTimestamp());

    internal uint? TryTake(Guid userId, Guid deviceId, long bytes, long now)
    {
        // Every rate off (load tests): nothing to count, no bucket to keep.
        if (!_user.Limits && !_device.Limits)
        {
            return null;
        }

        var device = _devices.GetOrAdd(deviceId, static (_, n) => new Bucket(n), now);
        var user = _users.GetOrAdd(userId, static (_, n) => new Bucket(n), now);

        // Always device, then user: a user's devices contend on the user bucket, never in the other order.
        lock (device)
        {
            lock (user)
            {
                device.Refill(_device, now);
                user.Refill(_user, now);
                var wait = Math.Max(device.WaitFor(_device, bytes), user.WaitFor(_user, bytes));
                if (wait > 0)
                {
                    return Milliseconds(wait);
                }

                device.Take(bytes);
                user.Take(bytes);
                return null;
            }
        }
    }

    /// <summary>
    /// Takes one request that every member of <paramref name="conversationId"/> will be sent (SEND, EDIT, DELETE,
    /// REACT) from the conversation's bucket; null when it may go on, else the milliseconds until it would pass.
    /// Call it only for a member who may send, so that nobody else can spend a conversation's budget.
    /// </summary>
    public uint? TryTakeConversation(Guid conversationId) => TryTakeConversation(conversationId, Stopwatch.GetTimestamp());

    internal uint? TryTakeConversation(Guid conversationId, long now) => TryTakeOne(_conversations, _conversation, conversationId, now);

    /// <summary>
    /// Takes one accepted change of a channel's settings (PATCH) from the channel's bucket; null when it may go on, else
    /// the milliseconds until it would pass. Call it only for a caller who may change them.
    /// </summary>
    public uint? TryTakeChannelChange(Guid channelId) => TryTakeOne(_channelChanges, _channelChange, channelId, Stopwatch.GetTimestamp());

    /// <summary>Gives back what <see cref="TryTakeChannelChange(Guid)"/> took for a change that was then refused.</summary>
    public void ReturnChannelChange(Guid channelId) => ReturnOne(_channelChanges, _channelChange, channelId, Stopwatch.GetTimestamp());

    /// <summary>
    /// Gives back what <see cref="TryTakeConversation(Guid)"/> took for a request that then changed nothing (the store
    /// refused it or failed, or it was a resend of what was stored before): only stored events spend a conversation's budget.
    /// </summary>
    public void ReturnConversation(Guid conversationId) => ReturnConversation(conversationId, Stopwatch.GetTimestamp());

    internal void ReturnConversation(Guid conversationId, long now) => ReturnOne(_conversations, _conversation, conversationId, now);

    public void Dispose() => _sweep.Dispose();

    internal void Sweep(long now)
    {
        Forget(_users, now, _forgetUsersAfter);
        Forget(_devices, now, _forgetDevicesAfter);
        Forget(_conversations, now, _forgetConversationsAfter);
        Forget(_channelChanges, now, _forgetChannelChangesAfter);
    }

    // A bucket counted in requests only, keyed by a conversation.
    private static uint? TryTakeOne(ConcurrentDictionary<Guid, Bucket> buckets, Shape shape, Guid key, long now)
    {
        if (!shape.Limits)
        {
            return null;
        }

        var bucket = buckets.GetOrAdd(key, static (_, n) => new Bucket(n), now);
        lock (bucket)
        {
            bucket.Refill(shape, now);
            var wait = bucket.WaitFor(shape, 0);
            if (wait > 0)
            {
                return Milliseconds(wait);
            }

            bucket.Take(0);
            return null;
        }
    }

    private static void ReturnOne(ConcurrentDictionary<Guid, Bucket> buckets, Shape shape, Guid key, long now)
    {
        if (!shape.Limits || !buckets.TryGetValue(key, out var bucket))
        {
            return;
        }

        lock (bucket)
        {
            bucket.Refill(shape, now);
            bucket.Return(shape);
        }
    }

    // A wait in whole milliseconds, rounded up and at least 1: a client that waits this long passes.
    private static uint Milliseconds(double seconds) => (uint)Math.Clamp(Math.Ceiling(seconds * 1000), 1, uint.MaxValue);

    /// <summary>Ticks after which an untouched bucket is full again, so that a fresh one is the same: a minute at least.</summary>
    private static long FullAfter(Shape shape)
    {
        var seconds = 60.0;
        if (shape.MessagesPerSecond > 0)
        {
            seconds = Math.Max(seconds, shape.MessageBurst / shape.MessagesPerSecond);
        }

        if (shape.BytesPerSecond > 0)
        {
            seconds = Math.Max(seconds, shape.ByteBurst / shape.BytesPerSecond);
        }

        return (long)Math.Min(seconds * Stopwatch.Frequency, long.MaxValue / 2.0);
    }

    private static void Forget(ConcurrentDictionary<Guid, Bucket> buckets, long now, long after)
    {
        foreach (var (key, bucket) in buckets)
        {
            if (now - Volatile.Read(ref bucket.Updated) > after)
            {
                buckets.TryRemove(new KeyValuePair<Guid, Bucket>(key, bucket));
            }
        }
    }

    /// <summary>A bucket's rates (per second; 0 = unlimited) and capacities.</summary>
    private sealed record Shape(double MessagesPerSecond, double MessageBurst, double BytesPerSecond, double ByteBurst)
    {
        /// <summary>Whether any of its rates is on.</summary>
        public bool Limits => MessagesPerSecond > 0 || BytesPerSecond > 0;
    }

    private sealed class Bucket(long now)
    {
        public long Updated = now;
        private double _messages = double.MaxValue;
        private double _bytes = double.MaxValue;

        public void Refill(Shape shape, long now)
        {
            var seconds = (double)(now - Updated) / Stopwatch.Frequency;
            Updated = now;
            _messages = Math.Min(shape.MessageBurst, _messages + (seconds * shape.MessagesPerSecond));
            _bytes = Math.Min(shape.ByteBurst, _bytes + (seconds * shape.BytesPerSecond));
        }

        /// <summary>Seconds until one more SEND of <paramref name="bytes"/> fits; 0 when it fits now.</summary>
        public double WaitFor(Shape shape, long bytes)
        {
            var wait = 0.0;
            if (shape.MessagesPerSecond > 0 && _messages < 1)
            {
                wait = (1 - _messages) / shape.MessagesPerSecond;
            }

            if (shape.BytesPerSecond > 0 && _bytes < bytes)
            {
                wait = Math.Max(wait, (bytes - _bytes) / shape.BytesPerSecond);
            }

            return wait;
        }

        public void Take(long bytes)
        {
            _messages -= 1;
            _bytes -= bytes;
        }

        /// <summary>One message back, never past the burst.</summary>
        public void Return(Shape shape) => _messages = Math.Min(shape.MessageBurst, _messages + 1);
    }
}
