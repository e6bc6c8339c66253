using System.Net;
using System.Net.Http.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// docs/security.md, "Accounts" and "Names": the password and naming rules, and malformed codes and tokens
// answered like unknown ones (never a 500).
public sealed class AccountRulesTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Theory]
    [InlineData("short1", "at least 8 characters")]
    [InlineData("😀😀😀😀", "at least 8 characters")]
    [InlineData("          ", "only spaces")]
    [InlineData("tab\there is bad", "control characters")]
    [InlineData("my name is {user}!", "must not contain the username")]
    [InlineData("Password123", "most common passwords")]
    [InlineData("qwertyuiop", "most common passwords")]
    public async Task Signup_WeakPassword_RefusedNamingTheRule(string password, string rule)
    {
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        var response = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username, password = password.Replace("{user}", username, StringComparison.Ordinal) }, TestServer.Json);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Contains(rule, problem.GetProperty("errors").GetProperty("password")[0].GetString(), StringComparison.Ordinal);
    }

    // Raising the Argon2id cost reaches stored passwords as their owners log in: a hash made with fewer passes is
    // replaced by one with the current settings at the next successful login, and the password still works.
    [Fact]
    public async Task Login_HashMadeWithWeakerSettings_IsReplacedWithTheCurrentOnes()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        try
        {
            TestUser alice;
            await using (var before = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Argon2Passes"] = "2" }, dataDirectory))
            {
                alice = await before.SignupAsync();
            }

            await using var after = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Argon2Passes"] = "3" }, dataDirectory);
            var directory = after.Server.App.Services.GetRequiredService<ChatWire.Storage.Directory.IDirectoryStore>();
            var stored = (await directory.FindUserByNameAsync(alice.Username))!.PasswordHash;
            var loggedIn = await after.LoginAsync(alice);
            var rehashed = (await directory.FindUserByNameAsync(alice.Username))!.PasswordHash;
            var again = await after.LoginAsync(alice);

            Assert.Contains("$m=19456,t=2,p=1$", stored, StringComparison.Ordinal);
            Assert.Contains("$m=19456,t=3,p=1$", rehashed, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await again.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await loggedIn.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Passwords_Over1024Bytes_RefusedBeforeHashing_AtSignupAndLogin()
    {
        var huge = new string('é', 513); // 1,026 bytes of UTF-8 in 513 characters
        var signup = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = huge }, TestServer.Json);
        var login = await Server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "nobody", password = huge }, TestServer.Json);

        await AssertProblemAsync(signup, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(login, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task ChangePassword_ToOneContainingTheUsername_Refused()
    {
        var user = await Server.SignupAsync();

        var response = await user.SendAsync(HttpMethod.Post, "v1/accounts/password", new { current_password = user.Password, new_password = user.Username + "-2026" });

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF")]
    public async Task Signup_UsernameThatParsesAsAUuid_Refused(string username)
    {
        var response = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username, password = "correct horse battery" }, TestServer.Json);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Theory]
    [InlineData("\u3164\u3164\u3164")]
    [InlineData("\u2800 \uFFA0")]
    [InlineData("\u115F\u1160")]
    [InlineData("\u0301\u0302")]
    [InlineData("\u200D\u3164")]
    public async Task Names_ThatShowNothing_Refused(string name)
    {
        var user = await Server.SignupAsync();
        var signup = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct horse battery", display_name = name, device_name = "phone" }, TestServer.Json);
        var team = await user.SendAsync(HttpMethod.Post, "v1/teams", new { name });
        var device = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct horse battery", device_name = name }, TestServer.Json);

        await AssertProblemAsync(signup, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(team, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(device, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task Names_WithABlankLetterAmongOthers_Taken()
    {
        var user = await Server.SignupAsync();

        var team = await user.SendAsync(HttpMethod.Post, "v1/teams", new { name = "a\u3164b" });

        Assert.Equal(HttpStatusCode.Created, team.StatusCode);
    }

    [Theory]
    [InlineData("alice\u202Egnp.exe")]
    [InlineData("bob\u200Bby")]
    [InlineData("\u2066isolate\u2069")]
    [InlineData("ab\U000E0041c")]
    [InlineData("a\U0001D173b")]
    public async Task Names_WithInvisibleFormattingCharacters_Refused(string name)
    {
        var user = await Server.SignupAsync();
        var signup = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct horse battery", display_name = name }, TestServer.Json);
        var team = await user.SendAsync(HttpMethod.Post, "v1/teams", new { name });

        await AssertProblemAsync(signup, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(team, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task NameLengths_CountCharacters_NotUtf16Units()
    {
        var user = await Server.SignupAsync(displayName: string.Concat(Enumerable.Repeat("😀", 64)));
        var tooLong = await user.SendAsync(HttpMethod.Post, "v1/teams", new { name = string.Concat(Enumerable.Repeat("😀", 65)) });
        var team = await user.SendAsync(HttpMethod.Post, "v1/teams", new { name = string.Concat(Enumerable.Repeat("😀", 33)) });

        Assert.Equal(64, (await user.CallAsync(HttpMethod.Get, "v1/me")).GetProperty("display_name").GetString()!.EnumerateRunes().Count());
        await AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal(HttpStatusCode.Created, team.StatusCode);
    }

    [Fact]
    public async Task Names_AreNormalizedToNfc_AndEmojiSequencesAreKept()
    {
        var decomposed = "Cafe\u0301 👩\u200D💻";
        var user = await Server.SignupAsync(displayName: decomposed);
        var me = await user.CallAsync(HttpMethod.Get, "v1/me");

        Assert.Equal("Caf\u00e9 👩\u200D💻", me.GetProperty("display_name").GetString());
    }

    [Fact]
    public async Task Signup_DisplayNameThatIsAnotherUsersUsername_Refused()
    {
        var alice = await Server.SignupAsync();

        var impostor = await Server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct horse battery", display_name = alice.Username.ToUpperInvariant() }, TestServer.Json);

        await AssertProblemAsync(impostor, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Theory]
    [InlineData("AAAAAAAAAAAAAAAAAAAAA!")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAB")]
    [InlineData("AAAAAAAAAAAAAAAAAAAA%2B")]
    [InlineData("short")]
    public async Task Join_MalformedInviteCode_GoneLikeAnUnknownOne(string code)
    {
        var user = await Server.SignupAsync();

        var response = await user.SendAsync(HttpMethod.Post, $"v1/invites/{code}/join");

        await AssertProblemAsync(response, HttpStatusCode.Gone, 4005, "INVITE_INVALID");
    }

    [Fact]
    public async Task MalformedTokens_AreInvalidTokens_OnHttpAndTcp()
    {
        var user = await Server.SignupAsync();
        var malformed = new string('A', 42) + "!";
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/me");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + malformed);

        var http = await Server.Http.SendAsync(request);
        await using var tcp = await RawClient.ConnectAsync(Server);
        await tcp.HelloAsync();
        await tcp.SendAsync(new Auth(tcp.NextRequestId(), malformed, user.DeviceId));

        await AssertProblemAsync(http, HttpStatusCode.Unauthorized, 2003, "INVALID_TOKEN");
        Assert.Equal(ErrorCode.InvalidToken, (await tcp.ExpectErrorAsync()).Code);
    }

    [Fact]
    public async Task AccountRequests_OverSixteenKilobytes_Refused()
    {
        var body = new StringContent("{\"username\":\"" + new string('a', 20_000) + "\",\"password\":\"x\"}", System.Text.Encoding.UTF8, "application/json");

        var response = await Server.Http.PostAsync("v1/accounts/login", body);

        await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task Signup_OverTheAddressThrottle_RefusedBeforeTheBodyIsRead()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerIpPerMinute"] = "1" });
        await server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct horse battery" }, TestServer.Json);

        // Not even JSON: refused by the throttle, not by the parser; however routing spells the path.
        var response = await server.Http.PostAsync("v1/accounts/signup", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));
        var otherCase = await server.Http.PostAsync("v1/Accounts/SignUp/", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        await AssertProblemAsync(otherCase, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
    }

    [Fact]
    public async Task ForwardedFor_IsBelievedFromTrustedProxiesOnly()
    {
        await using var behindProxy = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:AttemptsPerIpPerMinute"] = "1",
            ["Gateway:TrustedProxies:0"] = "127.0.0.1",
        });
        await using var direct = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerIpPerMinute"] = "1" });

        // Through the trusted proxy, two clients are two clients; straight from a client, the header is its own claim.
        var first = await SignupFromAsync(behindProxy, "198.51.100.1");
        var second = await SignupFromAsync(behindProxy, "198.51.100.2");
        var again = await SignupFromAsync(behindProxy, "198.51.100.1");
        await SignupFromAsync(direct, "198.51.100.1");
        var spoofed = await SignupFromAsync(direct, "198.51.100.2");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        await AssertProblemAsync(again, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        await AssertProblemAsync(spoofed, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
    }

    private static async Task<HttpResponseMessage> SignupFromAsync(TestServer server, string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/accounts/signup")
        {
            Content = JsonContent.Create(new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct horse battery" }),
        };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return await server.Http.SendAsync(request);
    }
}
