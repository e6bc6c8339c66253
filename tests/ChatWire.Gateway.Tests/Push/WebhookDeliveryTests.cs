using ChatWire.Gateway.Push;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Push;

// How the webhook provider handles its receiver's answers: retries, dead registrations, redirects; and the
// destination check at connect time.
public sealed class WebhookDeliveryTests
{
    private const string Metric = "chatwire_push_notifications_total";

    [Fact]
    public async Task Send_ReceiverUnavailableTwice_RetriedThenDelivered()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        var answers = new Queue<PushAnswer>([new PushAnswer(503), new PushAnswer(429, null, new Dictionary<string, string> { ["Retry-After"] = "1" }), PushAnswer.Ok]);
        receiver.Answer = _ => answers.Dequeue();
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        var ack = await aliceDesk.SendTextAsync(dm, "hello");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ack.MessageId, (await receiver.NextAsync()).Json.GetProperty("message_id").GetGuid());
        }

        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 1);
        Assert.Equal(2, await server.ReadMetricAsync(Metric, "provider=\"webhook\",outcome=\"retried\""));
        Assert.Equal(1, await server.ReadMetricAsync("chatwire_push_delivery_seconds_count", "provider=\"webhook\""));
    }

    // A receiver that accepts the request and never answers holds its send until the notification's deadline, not
    // for every attempt's timeout: then it counts timed_out and the queue moves on. Only the newest registrations
    // (Push:MaxDevicesPerUser) are sent to.
    [Fact]
    public async Task Send_SilentReceiver_GivenUpAtTheDeadline_OnlyTheNewestDevices()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var settings = PushFixture.Settings(receiver);
        settings["Push:DispatchTimeoutMs"] = "5000";
        settings["Push:MaxDevicesPerUser"] = "2";
        await using var server = await TestServer.StartAsync(settings);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var bobPhone = await server.LoginAsync(bob);
        var bobTablet = await server.LoginAsync(bob);
        foreach (var (device, name) in new[] { (bob, "oldest"), (bobPhone, "phone"), (bobTablet, "silent") })
        {
            await PushFixture.RegisterWebhookAsync(device, receiver, name);
            await Task.Delay(20);
        }

        var never = new TaskCompletionSource();
        receiver.Hold = push => push.Path.EndsWith("/silent", StringComparison.Ordinal) ? never.Task : Task.CompletedTask;
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"timed_out\"", v => v == 1);
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 1);
        never.TrySetResult();
        var paths = receiver.Drain().Select(p => p.Path).Order().ToList();
        Assert.Equal(["/hook/phone", "/hook/silent"], paths);
        Assert.Equal(0, await server.ReadMetricAsync(Metric, "provider=\"webhook\",outcome=\"retried\""));
    }

    // The embedded queue refills a slot as soon as its notification is done, one notification per user at a time: a
    // receiver that never answers holds its own user's other notification, not another user's that came due after it.
    [Fact]
    public async Task Send_SilentReceiver_OtherUsersLaterNotificationNotHeldBehindIt()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var settings = PushFixture.Settings(receiver);
        settings["Push:DispatchTimeoutMs"] = "120000";
        settings["Push:RequestTimeoutMs"] = "120000";
        await using var server = await TestServer.StartAsync(settings);
        var (alice, bob, carol, aliceBob, aliceCarol) = await PushFixture.ThreeInATeamAsync(server);
        var carolBob = await carol.OpenDmAsync(bob.Username);
        await PushFixture.RegisterWebhookAsync(bob, receiver, "bob");
        await PushFixture.RegisterWebhookAsync(carol, receiver, "carol");
        var never = new TaskCompletionSource();
        receiver.Hold = push => push.Path.EndsWith("/bob", StringComparison.Ordinal) ? never.Task : Task.CompletedTask;

        // Two notifications for bob, in two conversations, due together.
        await using (var carolDesk = await RawClient.ConnectAuthenticatedAsync(carol))
        {
            await carolDesk.SendTextAsync(carolBob, "from carol");
        }

        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);
        await aliceDesk.SendTextAsync(aliceBob, "from alice");
        Assert.Equal("/hook/bob", (await receiver.NextAsync()).Path);

        // Carol's, due after bob's first is held, is sent while it is.
        var toCarol = await aliceDesk.SendTextAsync(aliceCarol, "to carol");
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 1);
        var sent = Assert.Single(receiver.Drain());
        Assert.Equal(("/hook/carol", toCarol.MessageId), (sent.Path, sent.Json.GetProperty("message_id").GetGuid()));

        // Bob's second went out only once his first was answered.
        never.TrySetResult();
        Assert.Equal("/hook/bob", (await receiver.NextAsync()).Path);
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 3);
        Assert.Empty(receiver.Drain());
    }

    // A receiver that had a request when the notification's deadline came is passed over for its pause: the next
    // notification goes to the user's other device only, and counts suspended for the silent one. Registering again
    // ends the pause.
    [Fact]
    public async Task Send_ReceiverSilentOnce_PassedOverForTheNextNotification_UntilRegisteredAgain()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var settings = PushFixture.Settings(receiver);
        settings["Push:DispatchTimeoutMs"] = "5000";
        await using var server = await TestServer.StartAsync(settings);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var bobPhone = await server.LoginAsync(bob);
        await PushFixture.RegisterWebhookAsync(bob, receiver, "silent");
        await PushFixture.RegisterWebhookAsync(bobPhone, receiver, "phone");
        var never = new TaskCompletionSource();
        receiver.Hold = push => push.Path.EndsWith("/silent", StringComparison.Ordinal) ? never.Task : Task.CompletedTask;
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "one");
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"timed_out\"", v => v == 1);
        var second = await aliceDesk.SendTextAsync(dm, "two");

        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"suspended\"", v => v == 1);
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 2);
        never.TrySetResult();
        var received = receiver.Drain();
        Assert.Equal(["/hook/phone", "/hook/phone", "/hook/silent"], received.Select(p => p.Path).Order(StringComparer.Ordinal));
        Assert.Equal(second.MessageId, received.Last(p => p.Path == "/hook/phone").Json.GetProperty("message_id").GetGuid());
        Assert.Equal(1, await server.ReadMetricAsync(Metric, "provider=\"webhook\",outcome=\"timed_out\""));

        await PushFixture.RegisterWebhookAsync(bob, receiver, "silent");
        var third = await aliceDesk.SendTextAsync(dm, "three");
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 4);
        Assert.Equal(
            [("/hook/phone", third.MessageId), ("/hook/silent", third.MessageId)],
            receiver.Drain().Select(p => (p.Path, p.Json.GetProperty("message_id").GetGuid())).Order());
        Assert.Equal(1, await server.ReadMetricAsync(Metric, "provider=\"webhook\",outcome=\"suspended\""));
    }

    [Fact]
    public async Task Send_ReceiverSaysGone_RegistrationRemoved()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        receiver.Answer = _ => new PushAnswer(410);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        await receiver.NextAsync();
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"token_removed\"", v => v == 1);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await bob.SendAsync(HttpMethod.Get, "v1/push/registration")).StatusCode);
    }

    [Fact]
    public async Task Send_ReceiverRedirects_NotFollowedAndCountedFailed()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        receiver.Answer = push => push.Path.StartsWith("/hook/", StringComparison.Ordinal)
            ? new PushAnswer(307, null, new Dictionary<string, string> { ["Location"] = new Uri(receiver.BaseAddress, "elsewhere").ToString() })
            : throw new InvalidOperationException("The redirect was followed to " + push.Path);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        Assert.StartsWith("/hook/", (await receiver.NextAsync()).Path, StringComparison.Ordinal);
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"failed\"", v => v == 1);
        Assert.Empty(receiver.Drain());
        Assert.Empty(receiver.Faults);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.0.0.5", true)]
    [InlineData("172.16.3.4", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("192.168.1.1", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("224.0.0.1", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd12:3456::1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("64:ff9b::a00:1", true)]
    [InlineData("2606:4700::1111", false)]
    [InlineData("192.0.2.1", true)]
    [InlineData("198.51.100.1", true)]
    [InlineData("203.0.113.1", true)]
    [InlineData("2002:a00:1::", true)]
    [InlineData("2002:7f00:1::", true)]
    [InlineData("::127.0.0.1", true)]
    [InlineData("::10.0.0.1", true)]
    [InlineData("::ffff:0:7f00:1", true)]
    [InlineData("100::1", true)]
    [InlineData("2001::1", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("3fff::1", true)]
    [InlineData("2a00:1450:4001::200e", false)]
    public void IsInternal_Address_AsClassified(string address, bool expected) =>
        Assert.Equal(expected, WebhookAddressPolicy.IsInternal(System.Net.IPAddress.Parse(address)));

    // Each label within DNS's 63, the whole name over its 253: Uri takes it, the resolver would throw on it. The
    // registration is refused with a reason (400 VALIDATION_FAILED on token), not a 500; so is a lookup at send time.
    [Fact]
    public async Task CheckUrlAsync_HostLongerThanDnsCarries_RefusedWithAReason()
    {
        var host = string.Join('.', Enumerable.Repeat(new string('a', 63), 5)) + ".com";
        var policy = new WebhookAddressPolicy(allowPrivate: false);

        var reason = await policy.CheckUrlAsync($"https://{host}/hook", CancellationToken.None);
        var lookup = await Assert.ThrowsAsync<WebhookDestinationRefusedException>(() => policy.ResolveAllowedAsync(host, CancellationToken.None));

        Assert.Equal($"A webhook URL's host name is at most {WebhookAddressPolicy.MaxHostLength} characters.", reason);
        Assert.Contains("does not resolve", lookup.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_LoopbackWhileNotAllowed_RefusedBeforeConnecting()
    {
        await using var receiver = await PushReceiver.StartAsync();
        using var http = PushHttp.Create(new PushOptions { TrustedCertificatePath = receiver.CertificatePath }, System.Net.HttpVersion.Version11, new WebhookAddressPolicy(allowPrivate: false).ConnectAsync);

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsync(PushFixture.HookUrl(receiver, "x"), new StringContent("{}")));

        Assert.IsType<WebhookDestinationRefusedException>(failure.InnerException);
        Assert.Empty(receiver.Drain());
    }
}
