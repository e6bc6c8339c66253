using System.Net.Http.Json;
using System.Text.Json;

namespace ChatWire.Testing;

/// <summary>A signed-up user with one device session, and HTTP helpers that call the API as that device.</summary>
public sealed record TestUser(TestServer Server, string Username, string Password, Guid UserId, Guid DeviceId, string Token)
{
    public HttpRequestMessage Request(HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: TestServer.Json);
        }

        return request;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null) =>
        await Server.Http.SendAsync(Request(method, path, body));

    /// <summary>Sends <paramref name="content"/> exactly as given (any content type), as this device.</summary>
    public async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, HttpContent content)
    {
        using var request = Request(method, path);
        request.Content = content;
        return await Server.Http.SendAsync(request);
    }

    public async Task<JsonElement> CallAsync(HttpMethod method, string path, object? body = null)
    {
        var response = await SendAsync(method, path, body);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} {path} → {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return response.Content.Headers.ContentLength == 0 ? default : await response.Content.ReadFromJsonAsync<JsonElement>(TestServer.Json);
    }

    public async Task<(Guid TeamId, Guid GeneralId)> CreateTeamAsync(string name = "Team")
    {
        var team = await CallAsync(HttpMethod.Post, "v1/teams", new { name });
        return (team.GetProperty("team_id").GetGuid(), team.GetProperty("general_channel_id").GetGuid());
    }

    public async Task<string> InviteAsync(Guid teamId) =>
        (await CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { })).GetProperty("invite_code").GetString()!;

    public async Task JoinAsync(string inviteCode) => await CallAsync(HttpMethod.Post, $"v1/invites/{inviteCode}/join");

    public async Task<Guid> OpenDmAsync(params string[] users) =>
        (await CallAsync(HttpMethod.Post, "v1/dms", new { users })).GetProperty("conversation_id").GetGuid();
}
