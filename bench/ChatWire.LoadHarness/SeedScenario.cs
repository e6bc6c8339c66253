using System.Text;

namespace ChatWire.LoadHarness;

/// <summary>
/// The seed step on its own: users, device sessions and tokens (and optionally a team with channels) written
/// into a gateway data directory by <see cref="DirectorySeed"/>, and the tokens written next to them, so a
/// gateway started on that directory (<c>Gateway:DataDirectory</c>) has N devices ready to connect.
/// </summary>
internal static class SeedScenario
{
    public const string CredentialsFileName = "loadharness-credentials.csv";

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var directory = options.DataDirectory.Length > 0
            ? options.DataDirectory
            : Path.Combine(Path.GetTempPath(), "chatwire-seed-" + Guid.NewGuid().ToString("N"));
        var users = (options.Connections + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser;
        var seed = await DirectorySeed.RunAsync(directory, users, options.ConnectionsPerUser, options.Conversations, options.Members);

        // Session tokens are secrets even in a test directory: the file is the owner's only, like the databases.
        var credentials = Path.Combine(directory, CredentialsFileName);
        var text = new StringBuilder("user_id,device_id,session_token\n");
        foreach (var device in seed.Writer is null ? seed.Devices : [.. seed.Devices, seed.Writer])
        {
            text.Append(device.UserId).Append(',').Append(device.DeviceId).Append(',').Append(device.Token).Append('\n');
        }

        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(credentials, fileOptions))
        await using (var writer = new StreamWriter(file))
        {
            await writer.WriteAsync(text);
        }

        Console.WriteLine($"data directory {directory}; credentials in {credentials} (the last line is the writer, member of every channel, when there are channels)");
        return new
        {
            scenario = "seed",
            data_directory = directory,
            credentials,
            users,
            devices = seed.Devices.Count,
            channels = seed.Channels.Count,
            conversations_per_user = options.Conversations,
            members_per_channel = options.Members,
            seconds = seed.Seconds,
            devices_per_second = seed.Devices.Count / seed.Seconds,
        };
    }
}
