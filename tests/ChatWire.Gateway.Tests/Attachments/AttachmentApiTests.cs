using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using ChatWire.Gateway.Attachments;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests.Attachments;

// The attachments API (docs/http-api.md, "Attachments") on the embedded (local) blob store.
public sealed class AttachmentApiTests
{
    [Fact]
    public async Task Attachment_UploadCompleteDownload_MemberGetsExactlyTheUploadedBytes()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var bob = await server.SignupAsync("bob");
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        var ciphertext = RandomNumberGenerator.GetBytes(200_000);

        var created = await AttachmentClient.CreateForAsync(alice, general, ciphertext);
        var id = created.GetProperty("attachment_id").GetGuid();
        Assert.Equal("PUT", created.GetProperty("upload").GetProperty("method").GetString());
        Assert.StartsWith($"{server.ApiUrl}/v1/blobs/{id}?token=", created.GetProperty("upload").GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, await AttachmentClient.UploadAsync(created, ciphertext));
        var completed = await (await AttachmentClient.CompleteAsync(alice, id)).Content.ReadFromJsonAsync<JsonElement>();
        var got = await AttachmentClient.GetAsync(bob, id);

        Assert.Equal("ready", completed.GetProperty("state").GetString());
        Assert.Equal(ciphertext.Length, completed.GetProperty("size").GetInt64());
        Assert.Equal(HttpStatusCode.OK, got.StatusCode);
        var body = await got.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(general, body.GetProperty("conversation_id").GetGuid());
        Assert.Equal(Convert.ToBase64String(SHA256.HashData(ciphertext)), body.GetProperty("sha256").GetString());
        var download = await AttachmentClient.DownloadAsync(body.GetProperty("download_url").GetString()!);
        Assert.Equal(ciphertext, await download.Content.ReadAsByteArrayAsync());
        Assert.Equal(ciphertext, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "blobs", id.ToString())));
    }

    // docs/security.md: a download needs no session, so what bounds it is time. A client that asks for a blob and then
    // reads nothing has its connection closed once it has acknowledged nothing for a period: Gateway:HttpResponseStallTimeoutMs
    // (1 s here), or, on loopback, whose 64 KiB segments a reader of 2 KB/s takes 32 s for, that long. Reading afterwards
    // yields the bytes the kernel's buffers held, not the whole blob. (Before, Kestrel let each piece take minutes, and
    // the client could read the whole blob after any wait.)
    [Fact]
    public async Task Download_ClientReadsNothing_IsCutOffAfterTheStallTimeout()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:HttpResponseStallTimeoutMs"] = "1000" });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        var id = await AttachmentClient.UploadReadyAsync(alice, general, ciphertext);
        var url = new Uri((await (await AttachmentClient.GetAsync(alice, id)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("download_url").GetString()!);

        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(url.Host, url.Port);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n\r\n"));
        await Task.Delay(TimeSpan.FromSeconds(40));
        long received = 0;
        var buffer = new byte[64 * 1024];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, bound.Token)) > 0)
            {
                received += read;
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Reset by the server after the bytes already buffered: the end of the download either way.
        }

        Assert.InRange(received, 1, ciphertext.Length - 1);
        var whole = await AttachmentClient.DownloadAsync(url.ToString());
        Assert.Equal(ciphertext, await whole.Content.ReadAsByteArrayAsync());
    }

    // docs/http-api.md, deleting a team: its channels' attachments can no longer be read, completed or uploaded, a
    // download URL handed out before stops working, and the sweep (once their grants cannot be used any more) deletes
    // their blobs and frees their owners' quota. A DM's attachment stays.
    [Fact]
    public async Task DeleteTeam_ItsChannelsAttachments_GoneWithTheirBlobsAndQuota_ADmsStays()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Attachments:QuotaBytes"] = "3000" });
        var alice = await server.SignupAsync("alice");
        var bob = await server.SignupAsync("bob");
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        var direct = await alice.OpenDmAsync("bob");
        var ready = await AttachmentClient.UploadReadyAsync(alice, general, RandomNumberGenerator.GetBytes(1_000));
        var pendingBytes = RandomNumberGenerator.GetBytes(1_000);
        var pending = await AttachmentClient.CreateForAsync(alice, general, pendingBytes);
        var pendingId = pending.GetProperty("attachment_id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, await AttachmentClient.UploadAsync(pending, pendingBytes));
        var kept = await AttachmentClient.UploadReadyAsync(alice, direct, RandomNumberGenerator.GetBytes(500));
        var full = await AttachmentClient.CreateAsync(alice, direct, 1_000, new byte[32]);
        var urlBefore = (await (await AttachmentClient.GetAsync(bob, ready)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("download_url").GetString()!;
        var sweeper = server.Server.App.Services.GetRequiredService<AttachmentService>();

        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{team}");
        var completeAfter = await AttachmentClient.CompleteAsync(alice, pendingId);
        var getAfter = await AttachmentClient.GetAsync(alice, ready);
        var downloadAfter = await AttachmentClient.DownloadAsync(urlBefore);
        var sweptWhileGrantsLast = await sweeper.SweepAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        var stillFull = await AttachmentClient.CreateAsync(alice, direct, 2_000, new byte[32]);
        var swept = await sweeper.SweepAsync(DateTimeOffset.UtcNow + TimeSpan.FromHours(2), CancellationToken.None);
        var fits = await AttachmentClient.CreateAsync(alice, direct, 2_000, new byte[32]);

        Assert.Equal(HttpStatusCode.Forbidden, full.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, completeAfter.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, getAfter.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, downloadAfter.StatusCode);
        Assert.Equal(0, sweptWhileGrantsLast);
        Assert.Equal(HttpStatusCode.Forbidden, stillFull.StatusCode);
        Assert.Equal(2, swept);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", ready.ToString())));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", pendingId.ToString())));
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "blobs", kept.ToString())));
        Assert.Equal(HttpStatusCode.OK, (await AttachmentClient.GetAsync(bob, kept)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, fits.StatusCode);
    }

    // A slow but steady reader is not a stalled one: the send buffer frees room in large steps, so a write may wait
    // longer than the stall timeout while the client keeps taking bytes. Here it takes 1 MiB a second of 6 MiB with a
    // timeout of 1 s, and gets the whole blob. (Before, the wait of one write was the measure, and it was cut off.)
    [Fact]
    public async Task Download_SlowSteadyReader_IsNotCutOff()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:HttpResponseStallTimeoutMs"] = "1000" });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(6 * 1024 * 1024);
        var id = await AttachmentClient.UploadReadyAsync(alice, general, ciphertext);
        var url = (await (await AttachmentClient.GetAsync(alice, id)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("download_url").GetString()!;
        using var client = new HttpClient();

        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, read);
            await Task.Delay(16);
        }

        Assert.Equal(ciphertext, received.ToArray());
    }

    // An upload under way when its team is deleted: its bytes would belong to nothing and count against no quota, so
    // the upload is refused once it has arrived and nothing is kept. (Before, it was answered 204 and the file stayed.)
    [Fact]
    public async Task Upload_TeamDeletedWhileItArrives_NotFound_NothingKept()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (team, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(100_000);
        var created = await AttachmentClient.CreateForAsync(alice, general, ciphertext);
        var id = created.GetProperty("attachment_id").GetGuid();
        using var upload = new System.Net.Sockets.TcpClient();
        var stream = await StartUploadAsync(server, alice, created, upload, ciphertext, 50_000);

        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{team}");
        await stream.WriteAsync(ciphertext.AsMemory(50_000));
        using var reader = new StreamReader(stream);
        var answer = await reader.ReadLineAsync();

        Assert.Equal("HTTP/1.1 404 Not Found", answer);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", id.ToString())));
    }

    // A client cut off mid-download resumes with one byte range (206 and Content-Range); a range it cannot be given,
    // or several, gets the whole blob (200), as RFC 9110 allows.
    [Theory]
    [InlineData("bytes=100-199", 100, 199)]
    [InlineData("bytes=299990-", 299_990, 299_999)]
    [InlineData("bytes=-10", 299_990, 299_999)]
    [InlineData("bytes=299990-400000", 299_990, 299_999)]
    [InlineData("bytes=300000-", 0, -1)]
    [InlineData("bytes=0-1,5-9", 0, -1)]
    [InlineData("items=0-9", 0, -1)]
    public async Task Download_Range_OneRangeIsPartial_AnythingElseTheWhole(string range, int first, int last)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(300_000);
        var id = await AttachmentClient.UploadReadyAsync(alice, general, ciphertext);
        var url = (await (await AttachmentClient.GetAsync(alice, id)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("download_url").GetString()!;
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Range", range);

        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(new[] { "bytes" }, response.Headers.AcceptRanges);
        if (last < 0)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(ciphertext, body);
        }
        else
        {
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal($"bytes {first}-{last}/300000", response.Content.Headers.ContentRange?.ToString());
            Assert.Equal(ciphertext[first..(last + 1)], body);
        }
    }

    // HEAD answers as GET would, without the body (and without reading the blob for it).
    [Fact]
    public async Task Download_Head_HeadersOfTheBlobWithoutTheBody()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var id = await AttachmentClient.UploadReadyAsync(alice, general, RandomNumberGenerator.GetBytes(300_000));
        var url = (await (await AttachmentClient.GetAsync(alice, id)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("download_url").GetString()!;
        using var client = new HttpClient();

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(300_000, head.Content.Headers.ContentLength);
        Assert.Equal("application/octet-stream", head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    // docs/security.md: an upload has no body deadline, so it counts among its creator's requests in progress; with a
    // limit of 1, a slow upload leaves the creator no other request until it ends, and others are not held up.
    [Fact]
    public async Task SlowUpload_HoldsOneOfItsCreatorsRequestsInProgress_UntilItEnds()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:ApiRequestsInProgressPerUser"] = "1" });
        var alice = await server.SignupAsync("alice");
        var bob = await server.SignupAsync("bob");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(1_000);
        var created = await AttachmentClient.CreateForAsync(alice, general, ciphertext);

        // The headers and half the body, then nothing until the other requests have been answered.
        using var upload = new System.Net.Sockets.TcpClient();
        var stream = await StartUploadAsync(server, alice, created, upload, ciphertext, 500);

        var meanwhile = await alice.SendAsync(HttpMethod.Get, "v1/me");
        var others = await bob.SendAsync(HttpMethod.Get, "v1/me");
        await stream.WriteAsync(ciphertext.AsMemory(500));
        using var reader = new StreamReader(stream);
        var answer = await reader.ReadLineAsync();
        var afterwards = await alice.SendAsync(HttpMethod.Get, "v1/me");

        Assert.Equal(HttpStatusCode.TooManyRequests, meanwhile.StatusCode);
        Assert.Equal(HttpStatusCode.OK, others.StatusCode);
        Assert.Equal("HTTP/1.1 204 No Content", answer);
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }

    // The upload and download URLs name Gateway:PublicHost, never the host a request claims to be addressed to.
    [Fact]
    public async Task Urls_PublicHostSet_NameIt_NotTheRequestsHostHeader()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:PublicHost"] = "chat.example.test" });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(1_000);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/attachments")
        {
            Content = JsonContent.Create(new { conversation_id = general, size = ciphertext.Length, sha256 = Convert.ToBase64String(SHA256.HashData(ciphertext)) }),
        };
        request.Headers.Host = "evil.example";
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", alice.Token);

        using var response = await server.Http.SendAsync(request);
        var url = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("upload").GetProperty("url").GetString();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.StartsWith("http://chat.example.test/v1/blobs/", url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_OverMaxBytes_ContentTooLarge()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Attachments:MaxBytes"] = "1000" });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();

        Assert.Equal(HttpStatusCode.Created, (await AttachmentClient.CreateAsync(alice, general, 1000, new byte[32])).StatusCode);
        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CreateAsync(alice, general, 1001, new byte[32]), HttpStatusCode.BadRequest, 4008, "CONTENT_TOO_LARGE");
    }

    [Fact]
    public async Task Create_PastQuotaCountingPendingUploads_QuotaExceeded()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Attachments:QuotaBytes"] = "1000" });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        await AttachmentClient.UploadReadyAsync(alice, general, RandomNumberGenerator.GetBytes(500));
        Assert.Equal(HttpStatusCode.Created, (await AttachmentClient.CreateAsync(alice, general, 300, new byte[32])).StatusCode);

        var over = await AttachmentClient.CreateAsync(alice, general, 201, new byte[32]);

        await HttpApiTests.AssertProblemAsync(over, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        Assert.Equal(HttpStatusCode.Created, (await AttachmentClient.CreateAsync(alice, general, 200, new byte[32])).StatusCode);
    }

    [Fact]
    public async Task Create_PastMaxPendingUploads_QuotaExceeded()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        for (var i = 0; i < AttachmentService.MaxPendingUploads; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await AttachmentClient.CreateAsync(alice, general, 1, new byte[32])).StatusCode);
        }

        var over = await AttachmentClient.CreateAsync(alice, general, 1, new byte[32]);

        await HttpApiTests.AssertProblemAsync(over, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
    }

    [Fact]
    public async Task NonMember_CreateOrGet_NotFound()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var mallory = await server.SignupAsync("mallory");
        var (_, general) = await alice.CreateTeamAsync();
        var id = await AttachmentClient.UploadReadyAsync(alice, general, RandomNumberGenerator.GetBytes(100));

        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CreateAsync(mallory, general, 10, new byte[32]), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await HttpApiTests.AssertProblemAsync(await AttachmentClient.GetAsync(mallory, id), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CompleteAsync(mallory, id), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await AttachmentClient.GetAsync(alice, id)).StatusCode);
    }

    [Fact]
    public async Task Complete_ShorterUpload_UploadMismatchAndBlobAndAttachmentGone()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(1000);
        var created = await AttachmentClient.CreateForAsync(alice, general, ciphertext);
        var id = created.GetProperty("attachment_id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, await AttachmentClient.UploadAsync(created, ciphertext[..999]));

        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CompleteAsync(alice, id), (HttpStatusCode)422, 4016, "UPLOAD_MISMATCH");

        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", id.ToString())));
        await HttpApiTests.AssertProblemAsync(await AttachmentClient.GetAsync(alice, id), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task Complete_OtherHash_UploadMismatchAndBlobGone()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(1000);
        var response = await AttachmentClient.CreateAsync(alice, general, ciphertext.Length, SHA256.HashData(ciphertext[..999]));
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("attachment_id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, await AttachmentClient.UploadAsync(created, ciphertext));

        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CompleteAsync(alice, id), (HttpStatusCode)422, 4016, "UPLOAD_MISMATCH");

        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", id.ToString())));
    }

    [Fact]
    public async Task Complete_NothingUploaded_UploadMismatchButUploadStillPossible()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(10);
        var created = await AttachmentClient.CreateForAsync(alice, general, ciphertext);
        var id = created.GetProperty("attachment_id").GetGuid();

        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CompleteAsync(alice, id), (HttpStatusCode)422, 4016, "UPLOAD_MISMATCH");

        Assert.Equal(HttpStatusCode.NoContent, await AttachmentClient.UploadAsync(created, ciphertext));
        Assert.Equal(HttpStatusCode.OK, (await AttachmentClient.CompleteAsync(alice, id)).StatusCode);
    }

    [Fact]
    public async Task BlobUpload_LongerThanGrant_RefusedAndNothingStored()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var created = await AttachmentClient.CreateForAsync(alice, general, new byte[1000]);
        var id = created.GetProperty("attachment_id").GetGuid();

        Assert.Equal(HttpStatusCode.BadRequest, await AttachmentClient.UploadAsync(created, new byte[1001]));

        // Neither the object nor a temporary file: only the token secret is there.
        Assert.Equal([".token-key"], Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "blobs")).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", id.ToString())));
    }

    [Fact]
    public async Task BlobUpload_TamperedTokenOrOtherAttachment_Forbidden()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var bytes = new byte[100];
        var first = await AttachmentClient.CreateForAsync(alice, general, bytes);
        var second = await AttachmentClient.CreateForAsync(alice, general, bytes);
        var secondId = second.GetProperty("attachment_id").GetGuid().ToString();

        var tampered = await AttachmentClient.UploadAsync(first, bytes, url => url[..^2] + (url[^2] == 'A' ? "BA" : "AA"));
        var elsewhere = await AttachmentClient.UploadAsync(first, bytes, url => url.Replace(first.GetProperty("attachment_id").GetGuid().ToString(), secondId, StringComparison.Ordinal));
        var none = await AttachmentClient.UploadAsync(first, bytes, url => url[..url.IndexOf('?', StringComparison.Ordinal)]);

        Assert.Equal(HttpStatusCode.Forbidden, tampered);
        Assert.Equal(HttpStatusCode.Forbidden, elsewhere);
        Assert.Equal(HttpStatusCode.Forbidden, none);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", secondId)));
    }

    [Fact]
    public async Task BlobUpload_AnyContentType_Stored()
    {
        // The grant names application/octet-stream; a client that sends another type (or curl's default) is not refused for it.
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var bytes = new byte[100];
        var created = await AttachmentClient.CreateForAsync(alice, general, bytes);
        using var http = new HttpClient();
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");

        var response = await http.PutAsync(created.GetProperty("upload").GetProperty("url").GetString(), content);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task BlobUpload_ChunkedWithoutContentLength_RefusedAndNothingStored()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var created = await AttachmentClient.CreateForAsync(alice, general, new byte[100]);
        var url = created.GetProperty("upload").GetProperty("url").GetString()!;
        using var http = new HttpClient();
        var chunked = new StreamContent(new MemoryStream(new byte[100]));
        chunked.Headers.ContentLength = null;
        using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = chunked };
        request.Headers.TransferEncodingChunked = true;

        var response = await http.SendAsync(request);

        await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", created.GetProperty("attachment_id").GetGuid().ToString())));
    }

    [Fact]
    public async Task BlobUrls_Expired_Forbidden()
    {
        // Three seconds: the first upload must be done within them, on a busy machine too.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Attachments:UploadExpirySeconds"] = "3",
            ["Attachments:DownloadExpirySeconds"] = "3",
        });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var bytes = RandomNumberGenerator.GetBytes(100);
        var id = await AttachmentClient.UploadReadyAsync(alice, general, bytes);
        var late = await AttachmentClient.CreateForAsync(alice, general, bytes);
        var downloadUrl = (await (await AttachmentClient.GetAsync(alice, id)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("download_url").GetString()!;

        await Task.Delay(3500);

        Assert.Equal(HttpStatusCode.Forbidden, await AttachmentClient.UploadAsync(late, bytes));
        Assert.Equal(HttpStatusCode.Forbidden, (await AttachmentClient.DownloadAsync(downloadUrl)).StatusCode);
    }

    [Fact]
    public async Task Sweep_PendingPastGrantAndAnHour_BlobAndAttachmentDeletedQuotaFreed()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Attachments:QuotaBytes"] = "1000" });
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var bytes = RandomNumberGenerator.GetBytes(600);
        var abandoned = await AttachmentClient.CreateForAsync(alice, general, bytes);
        Assert.Equal(HttpStatusCode.NoContent, await AttachmentClient.UploadAsync(abandoned, bytes));
        var ready = await AttachmentClient.UploadReadyAsync(alice, general, RandomNumberGenerator.GetBytes(300));
        var service = server.Server.App.Services.GetRequiredService<AttachmentService>();

        Assert.Equal(0, await service.SweepAsync(DateTimeOffset.UtcNow.AddMinutes(15 + 59), CancellationToken.None));
        Assert.Equal(1, await service.SweepAsync(DateTimeOffset.UtcNow.AddMinutes(15 + 61), CancellationToken.None));

        var id = abandoned.GetProperty("attachment_id").GetGuid();
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "blobs", id.ToString())));
        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CompleteAsync(alice, id), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await AttachmentClient.GetAsync(alice, ready)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await AttachmentClient.CreateAsync(alice, general, 700, new byte[32])).StatusCode);
    }

    [Theory]
    [InlineData("{\"size\":10,\"sha256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}")]
    [InlineData("{\"conversation_id\":\"C\",\"sha256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}")]
    [InlineData("{\"conversation_id\":\"C\",\"size\":0,\"sha256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}")]
    [InlineData("{\"conversation_id\":\"C\",\"size\":10,\"sha256\":\"AAAA\"}")]
    [InlineData("{\"conversation_id\":\"C\",\"size\":10}")]
    public async Task Create_InvalidBody_ValidationFailed(string json)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();

        var response = await alice.SendRawAsync(HttpMethod.Post, "v1/attachments", new StringContent(json.Replace("\"C\"", $"\"{general}\"", StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"));

        await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    // Opens the upload grant's PUT on client, sends its headers and the first sent bytes of body, and returns once the
    // server counts it among the uploader's requests in progress (reading the body).
    private static async Task<System.Net.Sockets.NetworkStream> StartUploadAsync(
        TestServer server, TestUser uploader, JsonElement created, System.Net.Sockets.TcpClient client, byte[] body, int sent)
    {
        var url = new Uri(created.GetProperty("upload").GetProperty("url").GetString()!);
        var inProgress = server.Server.App.Services.GetRequiredService<Api.AccountRequestsInProgress>();
        await client.ConnectAsync(url.Host, url.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"PUT {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Length: {body.Length}\r\n\r\n"));
        await stream.WriteAsync(body.AsMemory(0, sent));
        for (var i = 0; i < 1000 && inProgress.Count(uploader.UserId) == 0; i++)
        {
            await Task.Delay(10);
        }

        return stream;
    }
}
