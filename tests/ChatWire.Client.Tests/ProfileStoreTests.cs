using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

public sealed class ProfileStoreTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public void Save_ThenLoad_RoundTrips()
    {
        var profile = new CliProfile("http://127.0.0.1:7480", Guid.CreateVersion7(), "alice", Guid.CreateVersion7(), "secret-token");

        _cli.Profiles.Save("work", profile);

        Assert.Equal(profile, _cli.Profiles.Load("work"));
        Assert.Null(_cli.Profiles.Load("other"));
    }

    [Fact]
    public void Save_WritesSnakeCaseKeys()
    {
        _cli.Profiles.Save("default", new CliProfile("http://h:1", Guid.CreateVersion7(), "alice", Guid.CreateVersion7(), "tok"));

        var text = File.ReadAllText(_cli.Profiles.PathFor("default"));

        foreach (var key in new[] { "\"server\"", "\"user_id\"", "\"username\"", "\"device_id\"", "\"session_token\"" })
        {
            Assert.Contains(key, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Save_FileIsMode0600_AndDirectory0700()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        _cli.Profiles.Save("default", new CliProfile("http://h:1", null, "alice", null, null));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_cli.Profiles.PathFor("default")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_cli.Profiles.Directory));
    }

    [Fact]
    public void Save_OverAWorldReadableFile_Leaves0600()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var path = _cli.Profiles.PathFor("default");
        Directory.CreateDirectory(_cli.Profiles.Directory);
        File.WriteAllText(path, "{}");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        _cli.Profiles.Save("default", new CliProfile("http://h:1", null, "alice", null, "tok"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal("tok", _cli.Profiles.Load("default")!.SessionToken);
        Assert.Single(Directory.GetFiles(_cli.Profiles.Directory));
    }

    [Fact]
    public void DefaultDirectory_PrefersXdgConfigHome_ElseHomeConfig()
    {
        var xdg = ProfileStore.DefaultDirectory(new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = "/x/config", ["HOME"] = "/home/a" });
        var home = ProfileStore.DefaultDirectory(new Dictionary<string, string?> { ["HOME"] = "/home/a" });
        var relative = ProfileStore.DefaultDirectory(new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = "relative", ["HOME"] = "/home/a" });

        Assert.Equal(Path.Combine("/x/config", "chatwire"), xdg);
        Assert.Equal(Path.Combine("/home/a", ".config", "chatwire"), home);
        Assert.Equal(Path.Combine("/home/a", ".config", "chatwire"), relative);
    }

    [Theory]
    [InlineData("default", true)]
    [InlineData("work-2.alt_x", true)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("../up", false)]
    [InlineData("a/b", false)]
    public void IsValidName_AcceptsPlainNamesOnly(string name, bool valid)
    {
        Assert.Equal(valid, ProfileStore.IsValidName(name));
    }
}
