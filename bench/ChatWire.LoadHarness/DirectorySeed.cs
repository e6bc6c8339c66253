using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Sqlite;

namespace ChatWire.LoadHarness;

/// <summary>One seeded device: its user, its id and the session token a client presents in AUTH.</summary>
internal sealed record SeededDevice(Guid UserId, Guid DeviceId, string Token);

/// <summary>What <see cref="DirectorySeed.RunAsync"/> created.</summary>
/// <param name="Devices">Every device, <c>devicesPerUser</c> per user, grouped by user.</param>
/// <param name="Writer">A user (with one device) who owns the team and is a member of every channel; null without channels.</param>
/// <param name="Channels">Each channel with its members, the writer not counted.</param>
/// <param name="Seconds">How long the seeding took.</param>
internal sealed record SeedResult(
    IReadOnlyList<SeededDevice> Devices,
    SeededDevice? Writer,
    IReadOnlyList<(Guid ConversationId, Guid[] Members)> Channels,
    double Seconds);

/// <summary>
/// Writes users, device sessions and (optionally) one team with channels straight into the embedded
/// directory database of a gateway data directory, before the gateway starts on it. Going through the HTTP
/// sign-up instead would cost one password hash per user (deliberately slow; it dominates a run of thousands
/// of users) and the sign-up rate limits. Tokens are made the way the gateway makes them: 32 random bytes as
/// base64url, of which only the SHA-256 is stored. The password hash is a marker no password matches, so
/// seeded users can connect but never log in.
/// </summary>
internal static class DirectorySeed
{
    private const string NoPassword = "$seeded$no-password-matches";

    /// <param name="dataDirectory">A gateway data directory (created when missing; its directory.db is created and migrated).</param>
    /// <param name="users">Users to create.</param>
    /// <param name="devicesPerUser">Device sessions per user.</param>
    /// <param name="conversationsPerUser">Channels each user is a member of (0: no team, no channels).</param>
    /// <param name="membersPerChannel">Members per channel; the channel count follows from it.</param>
    public static async Task<SeedResult> RunAsync(string dataDirectory, int users, int devicesPerUser, int conversationsPerUser, int membersPerChannel)
    {
        var started = Stopwatch.GetTimestamp();
        var paths = SqliteStorage.PrepareDataDirectory(dataDirectory);
        using var store = await SqliteDirectoryStore.OpenAsync(paths.DirectoryDatabase);
        var now = DateTimeOffset.UtcNow;
        var devices = new List<SeededDevice>(users * devicesPerUser);
        var userIds = new Guid[users];
        var done = 0;
        await using (new ProgressLine(() => $"seed: {Volatile.Read(ref done)}/{users} users"))
        {
            for (var u = 0; u < users; u++)
            {
                var userId = Guid.CreateVersion7();
                userIds[u] = userId;
                await store.CreateUserAsync(new UserRecord(userId, $"load{u:D7}", $"Load {u}", NoPassword, now));
                for (var d = 0; d < devicesPerUser; d++)
                {
                    devices.Add(await CreateDeviceAsync(store, userId, now));
                }

                Volatile.Write(ref done, u + 1);
            }
        }

        SeededDevice? writer = null;
        var channels = new List<(Guid, Guid[])>();
        if (conversationsPerUser > 0)
        {
            // Channel c holds the users i with (i * K + j) mod C == c for some j < K: each user is in K channels,
            // each channel has about membersPerChannel users, and neighbouring users share few channels.
            var channelCount = Math.Max(conversationsPerUser, (int)Math.Ceiling(users * (double)conversationsPerUser / membersPerChannel));
            var writerId = Guid.CreateVersion7();
            await store.CreateUserAsync(new UserRecord(writerId, "load-writer", "Load writer", NoPassword, now));
            writer = await CreateDeviceAsync(store, writerId, now);
            var teamId = Guid.CreateVersion7();
            await store.CreateTeamAsync(new TeamRecord(teamId, "load", writerId, now));
            var joined = 0;
            await using (new ProgressLine(() => $"seed: {Volatile.Read(ref joined)}/{users} team members, {channels.Count}/{channelCount} channels"))
            {
                for (var u = 0; u < users; u++)
                {
                    await store.AddTeamMemberAsync(teamId, userIds[u], TeamRole.Member, now);
                    Volatile.Write(ref joined, u + 1);
                }

                var members = Enumerable.Range(0, channelCount).Select(_ => new List<Guid>()).ToArray();
                for (var u = 0; u < users; u++)
                {
                    for (var j = 0; j < conversationsPerUser; j++)
                    {
                        members[(int)(((long)u * conversationsPerUser + j) % channelCount)].Add(userIds[u]);
                    }
                }

                for (var c = 0; c < channelCount; c++)
                {
                    var channel = new ConversationRecord(Guid.CreateVersion7(), ConversationKind.PublicChannel, teamId, $"load-{c:D5}", null, writerId, now);
                    await store.CreateConversationAsync(channel, [writerId, .. members[c]]);
                    channels.Add((channel.Id, members[c].ToArray()));
                }
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"seeded {users} users, {devices.Count} devices, {channels.Count} channels in {seconds:F1} s");
        return new SeedResult(devices, writer, channels, seconds);
    }

    private static async Task<SeededDevice> CreateDeviceAsync(SqliteDirectoryStore store, Guid userId, DateTimeOffset now)
    {
        var raw = RandomNumberGenerator.GetBytes(32);
        var device = new SeededDevice(userId, Guid.CreateVersion7(), Base64Url.EncodeToString(raw));
        await store.CreateDeviceSessionAsync(new DeviceSessionRecord(device.DeviceId, userId, "load harness", SHA256.HashData(raw), now, now, null));
        return device;
    }
}
