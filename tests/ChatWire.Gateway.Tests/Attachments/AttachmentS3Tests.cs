using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using ChatWire.Storage.Blobs;
using ChatWire.Testing;
using ChatWire.Tests.Shared;

namespace ChatWire.Gateway.Tests.Attachments;

// The attachments API with Storage:Blobs=s3, against the real S3-compatible server of scripts/services.sh.
public sealed class AttachmentS3Tests
{
    private static Dictionary<string, string?> S3Settings() => new()
    {
        ["Storage:Blobs"] = "s3",
        ["Storage:S3:ServiceUrl"] = BackingServices.S3,
        ["Storage:S3:Bucket"] = BackingServices.S3Bucket,
        ["Storage:S3:Region"] = "us-east-1",
        ["Storage:S3:AccessKey"] = BackingServices.S3AccessKey,
        ["Storage:S3:SecretKey"] = BackingServices.S3SecretKey,
        ["Storage:S3:ForcePathStyle"] = "true",
    };

    private static S3BlobStore Bucket() =>
        new(new S3BlobStoreOptions(BackingServices.S3, BackingServices.S3Bucket, "us-east-1", BackingServices.S3AccessKey, BackingServices.S3SecretKey, ForcePathStyle: true));

    [Fact]
    public async Task Attachment_UploadCompleteDownload_ExactBytesInTheBucket()
    {
        await using var server = await TestServer.StartAsync(S3Settings());
        var alice = await server.SignupAsync("alice");
        var bob = await server.SignupAsync("bob");
        var (team, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        var dm = await alice.OpenDmAsync("bob");
        var ciphertext = RandomNumberGenerator.GetBytes(150_000);

        var created = await AttachmentClient.CreateForAsync(alice, dm, ciphertext);
        var id = created.GetProperty("attachment_id").GetGuid();
        var upload = created.GetProperty("upload");
        Assert.Equal("POST", upload.GetProperty("method").GetString());
        Assert.StartsWith(BackingServices.S3, upload.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal(id.ToString(), upload.GetProperty("fields").GetProperty("key").GetString());
        Assert.True((int)await AttachmentClient.UploadAsync(created, ciphertext) is >= 200 and < 300);
        Assert.Equal(HttpStatusCode.OK, (await AttachmentClient.CompleteAsync(alice, id)).StatusCode);
        var body = await (await AttachmentClient.GetAsync(bob, id)).Content.ReadFromJsonAsync<JsonElement>();
        var download = await AttachmentClient.DownloadAsync(body.GetProperty("download_url").GetString()!);

        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(ciphertext, await download.Content.ReadAsByteArrayAsync());
        using var bucket = Bucket();
        Assert.Equal(ciphertext.Length, (await bucket.GetInfoAsync(id.ToString()))!.Size);
    }

    [Fact]
    public async Task Complete_LongerUpload_UploadMismatchAndObjectGone()
    {
        await using var server = await TestServer.StartAsync(S3Settings());
        var alice = await server.SignupAsync("alice");
        var (_, general) = await alice.CreateTeamAsync();
        var ciphertext = RandomNumberGenerator.GetBytes(1000);
        var created = await AttachmentClient.CreateForAsync(alice, general, ciphertext);
        var id = created.GetProperty("attachment_id").GetGuid();

        // s3rver does not enforce the policy's content-length-range (real S3 does): the server's HEAD check catches it.
        Assert.True((int)await AttachmentClient.UploadAsync(created, RandomNumberGenerator.GetBytes(1005)) is >= 200 and < 300);
        using var bucket = Bucket();
        Assert.Equal(1005, (await bucket.GetInfoAsync(id.ToString()))!.Size);

        await HttpApiTests.AssertProblemAsync(await AttachmentClient.CompleteAsync(alice, id), (HttpStatusCode)422, 4016, "UPLOAD_MISMATCH");

        Assert.Null(await bucket.GetInfoAsync(id.ToString()));
        await HttpApiTests.AssertProblemAsync(await AttachmentClient.GetAsync(alice, id), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task BlobEndpoints_S3Store_NotServed()
    {
        await using var server = await TestServer.StartAsync(S3Settings());

        var response = await server.Http.GetAsync($"v1/blobs/{Guid.NewGuid()}?token=x");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
