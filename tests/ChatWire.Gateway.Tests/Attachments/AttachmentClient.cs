using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Attachments;

/// <summary>What a client does with the attachments API: declare, upload with the grant it got, complete, download.</summary>
internal static class AttachmentClient
{
    private static readonly HttpClient Direct = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static Task<HttpResponseMessage> CreateAsync(TestUser user, Guid conversationId, long size, byte[] sha256) =>
        user.SendAsync(HttpMethod.Post, "v1/attachments", new { conversation_id = conversationId, size, sha256 = Convert.ToBase64String(sha256) });

    /// <summary>Declares <paramref name="ciphertext"/> truthfully; returns the 201 body.</summary>
    public static async Task<JsonElement> CreateForAsync(TestUser user, Guid conversationId, byte[] ciphertext)
    {
        var response = await CreateAsync(user, conversationId, ciphertext.Length, SHA256.HashData(ciphertext));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Uploads <paramref name="bytes"/> as the grant in <paramref name="created"/> says (PUT, or POST multipart).</summary>
    public static async Task<HttpStatusCode> UploadAsync(JsonElement created, byte[] bytes, Func<string, string>? editUrl = null)
    {
        var upload = created.GetProperty("upload");
        var url = upload.GetProperty("url").GetString()!;
        url = editUrl?.Invoke(url) ?? url;
        HttpRequestMessage request;
        if (upload.GetProperty("method").GetString() == "PUT")
        {
            request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new ByteArrayContent(bytes) };
        }
        else
        {
            var form = new MultipartFormDataContent();
            foreach (var field in upload.GetProperty("fields").EnumerateObject())
            {
                form.Add(new StringContent(field.Value.GetString()!), field.Name);
            }

            form.Add(new ByteArrayContent(bytes), "file", "blob");
            request = new HttpRequestMessage(HttpMethod.Post, url) { Content = form };
        }

        foreach (var header in upload.GetProperty("headers").EnumerateObject())
        {
            request.Content!.Headers.Remove(header.Name);
            request.Content.Headers.TryAddWithoutValidation(header.Name, header.Value.GetString());
        }

        using var response = await Direct.SendAsync(request);
        return response.StatusCode;
    }

    public static Task<HttpResponseMessage> CompleteAsync(TestUser user, Guid attachmentId) =>
        user.SendAsync(HttpMethod.Post, $"v1/attachments/{attachmentId}/complete");

    public static Task<HttpResponseMessage> GetAsync(TestUser user, Guid attachmentId) =>
        user.SendAsync(HttpMethod.Get, $"v1/attachments/{attachmentId}");

    public static Task<HttpResponseMessage> DownloadAsync(string url) => Direct.GetAsync(url);

    /// <summary>Declare, upload, complete; returns the attachment id.</summary>
    public static async Task<Guid> UploadReadyAsync(TestUser user, Guid conversationId, byte[] ciphertext)
    {
        var created = await CreateForAsync(user, conversationId, ciphertext);
        Assert.True((int)await UploadAsync(created, ciphertext) is >= 200 and < 300);
        var id = created.GetProperty("attachment_id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await CompleteAsync(user, id)).StatusCode);
        return id;
    }
}
