using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ChatWire.Client.Internal;
using ChatWire.Protocol;

namespace ChatWire.Client.Tests;

// The parts of the key directory client that are pure: reading a DISTRIBUTION_MISMATCH refusal's lists
// (the server round trips are in SecureMessagingTests).
public sealed class KeyApiClientTests
{
    [Fact]
    public async Task ReadDistributionMismatch_ProblemWithLists_ReturnsEachList()
    {
        var user = Guid.CreateVersion7();
        var device = Guid.CreateVersion7();
        var json = $$"""
            {"type":"about:blank","title":"Conflict","status":409,"code":4013,"name":"DISTRIBUTION_MISMATCH","detail":"Seal to every member.",
             "missing":[{"user_id":"{{user}}","history_key_generation":2}],"extra":[{"user_id":"{{user}}","device_id":"{{device}}"}]}
            """;
        using var response = new HttpResponseMessage(HttpStatusCode.Conflict) { Content = new StringContent(json, Encoding.UTF8) };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/problem+json");

        var ex = await ProblemDetailsReader.ReadAsync(response, CancellationToken.None);
        var mismatch = ChatWireApiClient.ReadDistributionMismatch(ex);

        Assert.Equal((ErrorCode)4013, ex.Code);
        Assert.Equal("DISTRIBUTION_MISMATCH", ex.Name);
        Assert.Equal(new KeyBundleRecipient(user, null, 2), Assert.Single(mismatch.Missing));
        Assert.Equal(new KeyBundleRecipient(user, device, null), Assert.Single(mismatch.Extra));
        Assert.Empty(mismatch.Stale);
    }

    [Fact]
    public async Task ReadDistributionMismatch_NotJson_ReturnsEmptyLists()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.Conflict) { Content = new StringContent("<html>busy</html>") };

        var ex = await ProblemDetailsReader.ReadAsync(response, CancellationToken.None);
        var mismatch = ChatWireApiClient.ReadDistributionMismatch(ex);

        Assert.Null(ex.Problem);
        Assert.Empty(mismatch.Missing);
        Assert.Empty(mismatch.Extra);
    }
}
