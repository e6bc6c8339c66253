using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The CLI's encryption verbs against the real gateway: signup and login set keys up, a second device is pending
// until approved by its code, send encrypts, history decrypts (or says why not), files go encrypted.
public sealed class CliE2eTests : IClassFixture<ServerFixture>, IDisposable
{
    private const string Password = "correct horse battery";

    private readonly TestServer _server;
    private readonly CliHarness _cli;

    public CliE2eTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task SecondDevice_PendingUntilApproved_ThenReadsHistory_AndEveryVerbWorks()
    {
        var alice = "a" + Guid.NewGuid().ToString("N")[..12];
        var bob = "b" + Guid.NewGuid().ToString("N")[..12];
        var signup = await Ok("alice", Password, "signup", "--server", _server.ApiUrl, "--user", alice, "--password-stdin");
        await Ok("bob", Password, "signup", "--server", _server.ApiUrl, "--user", bob, "--password-stdin");
        var team = (await Ok("alice", null, "--json", "team", "create", "Crypto")).JsonLines[0];
        await Ok("bob", null, "team", "join", team.GetProperty("invite_code").GetString()!);
        var general = team.GetProperty("general_channel_id").GetString()!;

        var sent = (await Ok("bob", null, "--json", "send", general, "secret", "plans")).JsonLines[0];
        var login = await Ok("laptop", Password, "login", "--server", _server.ApiUrl, "--user", alice, "--password-stdin", "--device-name", "laptop");
        var pendingHistory = await Ok("laptop", null, "--json", "history", general);
        var code = System.Text.RegularExpressions.Regex.Match(login.Stderr, "devices approve ([A-Z2-7]{5}-[A-Z2-7]{5})").Groups[1].Value;
        var devicesBefore = await Ok("alice", null, "--json", "devices");
        var notYet = await _cli.RunAsync("--profile", "laptop", "devices", "wait", "--timeout", "1");
        await Ok("alice", null, "devices", "approve", code);
        var approved = (await Ok("laptop", null, "--json", "devices", "wait")).JsonLines[0];
        var history = await Ok("laptop", null, "--json", "history", general);
        var verifyAlice = (await Ok("alice", null, "--json", "verify", bob)).JsonLines[0];
        var verifyBob = (await Ok("bob", null, "--json", "verify", alice)).JsonLines[0];

        Assert.Contains("recovery key", signup.Stderr, StringComparison.Ordinal);
        Assert.True(sent.GetProperty("encrypted").GetBoolean());
        Assert.Contains("This device is pending approval. On a trusted device run: chatwire devices approve " + code, login.Stderr, StringComparison.Ordinal);
        Assert.Equal("[cannot decrypt: device not approved yet]", pendingHistory.JsonLines.Single(l => l.GetProperty("type").GetString() == "message").GetProperty("text").GetString());
        Assert.Contains(devicesBefore.JsonLines, line => line.GetProperty("state").GetString() == "pending");
        Assert.Equal(1, notYet.Exit);
        Assert.Contains("E2E_NOT_APPROVED", notYet.Stderr, StringComparison.Ordinal);
        Assert.True(approved.GetProperty("approved").GetBoolean());
        var message = history.JsonLines.Single(l => l.GetProperty("type").GetString() == "message");
        Assert.Equal("secret plans", message.GetProperty("text").GetString());
        Assert.True(message.GetProperty("encrypted").GetBoolean());
        Assert.Equal(verifyAlice.GetProperty("safety_number").GetString(), verifyBob.GetProperty("safety_number").GetString());
        Assert.Equal("unverified", verifyAlice.GetProperty("verification").GetString());

        // Alice marks Bob verified with the number they compared; a number that is not theirs marks nothing.
        var number = verifyBob.GetProperty("safety_number").GetString()!;
        var wrongNumber = await _cli.RunAsync("--profile", "alice", "--json", "verify", bob, "--confirm", (number[0] == '1' ? "2" : "1") + number[1..]);
        Assert.Equal(1, wrongNumber.Exit);
        Assert.Contains("E2E_SAFETY_NUMBER_MISMATCH", wrongNumber.Stdout + wrongNumber.Stderr, StringComparison.Ordinal);
        var confirmed = (await Ok("alice", null, "--json", "verify", bob, "--confirm", number)).JsonLines[0];
        Assert.Equal("verified", confirmed.GetProperty("verification").GetString());
        Assert.Equal("unverified", (await Ok("alice", null, "--json", "verify", bob, "--clear")).JsonLines[0].GetProperty("verification").GetString());

        // An encrypted edit, and history read twice (each message is decrypted once, then kept).
        await Ok("bob", null, "edit", sent.GetProperty("message_id").GetString()!, "secret", "plans", "v2");
        var edited = await Ok("alice", null, "--json", "history", general);
        var again = await Ok("alice", null, "--json", "history", general);
        Assert.Contains(edited.JsonLines, line => line.GetProperty("type").GetString() == "message" && line.GetProperty("text").GetString() == "secret plans v2" && line.TryGetProperty("encrypted", out _));
        Assert.Equal(edited.Stdout, again.Stdout);
        Assert.DoesNotContain("cannot decrypt", again.Stdout, StringComparison.Ordinal);

        // A file: metadata stripped, encrypted, and back whole.
        var path = Path.Combine(_cli.ConfigHome, "note.txt");
        await File.WriteAllTextAsync(path, "attached words");
        var file = (await Ok("alice", null, "--json", "send", general, "--file", path)).JsonLines[0];
        var outPath = Path.Combine(_cli.ConfigHome, "note.out");
        await Ok("bob", null, "download", file.GetProperty("message_id").GetString()!, "--out", outPath);
        Assert.Equal("attached words", await File.ReadAllTextAsync(outPath));

        // Revoked: the laptop's session ends.
        var laptopId = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_cli.ConfigHome, "chatwire", "laptop.json"))).RootElement.GetProperty("device_id").GetString()!;
        await Ok("alice", null, "devices", "revoke", laptopId);
        var after = await _cli.RunAsync("--profile", "laptop", "history", general);
        Assert.Equal(1, after.Exit);
    }

    [Fact]
    public async Task SendImage_HistoryShowsDimensions_ThumbnailDownloads_CorruptImageRefused()
    {
        var alice = "a" + Guid.NewGuid().ToString("N")[..12];
        var bob = "b" + Guid.NewGuid().ToString("N")[..12];
        await Ok("alice", Password, "signup", "--server", _server.ApiUrl, "--user", alice, "--password-stdin");
        await Ok("bob", Password, "signup", "--server", _server.ApiUrl, "--user", bob, "--password-stdin");
        var team = (await Ok("alice", null, "--json", "team", "create", "Pictures")).JsonLines[0];
        await Ok("bob", null, "team", "join", team.GetProperty("invite_code").GetString()!);
        var general = team.GetProperty("general_channel_id").GetString()!;
        var photo = Path.Combine(_cli.ConfigHome, "photo.jpg");
        await File.WriteAllBytesAsync(photo, TestImages.Jpeg(1024, 768));
        var broken = Path.Combine(_cli.ConfigHome, "broken.jpg");
        await File.WriteAllBytesAsync(broken, TestImages.Jpeg(1024, 768)[..300]);

        var sent = (await Ok("alice", null, "--json", "send", general, "--file", photo)).JsonLines[0];
        var id = sent.GetProperty("message_id").GetString()!;
        var history = await Ok("bob", null, "history", general);
        var thumbPath = Path.Combine(_cli.ConfigHome, "thumb.jpg");
        await Ok("bob", null, "download", id, "--out", thumbPath, "--thumbnail");
        var fullPath = Path.Combine(_cli.ConfigHome, "full.jpg");
        await Ok("bob", null, "download", id, "--out", fullPath);
        var refused = await _cli.RunAsync("--profile", "alice", "send", general, "--file", broken);

        Assert.True(sent.GetProperty("metadata_stripped").GetBoolean());
        Assert.Contains($"[image photo.jpg, 1024×768, ", history.Stdout, StringComparison.Ordinal);
        Assert.Contains($" KB: chatwire --profile bob download {id} --out PATH]", history.Stdout, StringComparison.Ordinal);
        var thumbnail = await File.ReadAllBytesAsync(thumbPath);
        using (var decoded = SkiaSharp.SKBitmap.Decode(thumbnail))
        {
            Assert.Equal((320, 240), (decoded.Width, decoded.Height));
        }

        Assert.Equal("image/jpeg", Client.Secure.ImageMetadata.SniffImageType(thumbnail));
        Assert.False(TestImages.ContainsSecret(thumbnail));
        Assert.False(TestImages.ContainsSecret(await File.ReadAllBytesAsync(fullPath)));
        Assert.Equal(1, refused.Exit);
        Assert.Contains(broken + " is not a valid JPEG image: ", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("BAD_RESPONSE", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("..", refused.Stderr, StringComparison.Ordinal);
    }

    // An edit of a message deleted since has its content erased with the message: history shows it as deleted,
    // not as a decryption failure (it printed "[cannot decrypt: The input ends before its declared length.]").
    [Fact]
    public async Task History_AnEditOfADeletedMessage_ShowsDeleted_NotADecryptionFailure()
    {
        var alice = "a" + Guid.NewGuid().ToString("N")[..12];
        await Ok("alice", Password, "signup", "--server", _server.ApiUrl, "--user", alice, "--password-stdin");
        var team = (await Ok("alice", null, "--json", "team", "create", "Edits")).JsonLines[0];
        var general = team.GetProperty("general_channel_id").GetString()!;
        var id = (await Ok("alice", null, "--json", "send", general, "first")).JsonLines[0].GetProperty("message_id").GetString()!;
        await Ok("alice", null, "edit", id, "first!");
        await Ok("alice", null, "delete", id);

        var json = await Ok("alice", null, "--json", "history", general);
        var human = await Ok("alice", null, "history", general);

        var edit = json.JsonLines.Single(l => l.GetProperty("type").GetString() == "edit");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, edit.GetProperty("text").ValueKind);
        Assert.DoesNotContain("cannot decrypt", json.Stdout + human.Stdout, StringComparison.Ordinal);
        Assert.Contains($" edited {id}: [deleted]", human.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recover_OnANewLogin_WithTheKeyFromSignup_ReadsEverythingAgain()
    {
        var alice = "a" + Guid.NewGuid().ToString("N")[..12];
        var bob = "b" + Guid.NewGuid().ToString("N")[..12];
        var signup = await Ok("alice", Password, "signup", "--server", _server.ApiUrl, "--user", alice, "--password-stdin");
        var recoveryKey = System.Text.RegularExpressions.Regex.Match(signup.Stderr, "recovery key [^:]*: ([A-Z2-7-]+)").Groups[1].Value;
        await Ok("bob", Password, "signup", "--server", _server.ApiUrl, "--user", bob, "--password-stdin");
        var team = (await Ok("alice", null, "--json", "team", "create", "Lost")).JsonLines[0];
        await Ok("bob", null, "team", "join", team.GetProperty("invite_code").GetString()!);
        var general = team.GetProperty("general_channel_id").GetString()!;
        await Ok("alice", null, "send", general, "alice", "before");
        await Ok("bob", null, "send", general, "bob", "before");

        // The "alice" profile and its keys are gone; a new login is pending, and a wrong key changes nothing.
        await Ok("alice-new", Password, "login", "--server", _server.ApiUrl, "--user", alice, "--password-stdin", "--device-name", "new phone");
        var wrong = await _cli.RunWithStdinAsync((recoveryKey[0] == 'A' ? "B" : "A") + recoveryKey[1..] + "\n", ["--profile", "alice-new", "recover", "--recovery-key-stdin"]);
        var recovered = await Ok("alice-new", recoveryKey, "--json", "recover", "--recovery-key-stdin");
        await Ok("bob", null, "send", general, "bob", "after");
        var history = await Ok("alice-new", null, "--json", "history", general);
        var oldDevice = await _cli.RunAsync("--profile", "alice", "history", general);

        Assert.NotEqual(0, wrong.Exit);
        Assert.True(recovered.JsonLines[0].GetProperty("recovered").GetBoolean());
        var texts = history.JsonLines.Where(l => l.GetProperty("type").GetString() == "message").Select(l => l.GetProperty("text").GetString()).ToList();
        Assert.Equal(["alice before", "bob before", "bob after"], texts);
        Assert.Equal(1, oldDevice.Exit);
    }

    private async Task<CliResult> Ok(string profile, string? stdin, params string[] args)
    {
        var result = await _cli.RunWithStdinAsync(stdin is null ? string.Empty : stdin + "\n", ["--profile", profile, .. args]);
        Assert.True(result.Exit == 0, $"chatwire {string.Join(' ', args)} exited {result.Exit}: {result.Stdout} {result.Stderr}");
        return result;
    }
}
