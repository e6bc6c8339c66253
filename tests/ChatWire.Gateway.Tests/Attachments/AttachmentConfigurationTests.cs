using ChatWire.Gateway.Hosting;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Attachments;

// Storage:Blobs, Storage:S3 and Attachments are validated at start with the rest; secrets are never reported.
public sealed class AttachmentConfigurationTests
{
    [Fact]
    public async Task Start_InvalidBlobAndAttachmentSettings_RefusedWithOneLinePerProblem()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Blobs"] = "ftp",
            ["Attachments:MaxBytes"] = "0",
            ["Attachments:UploadExpirySeconds"] = "700000",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Storage:Blobs must be 'local' or 's3'; got 'ftp'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Attachments:MaxBytes must be at least 1", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Attachments:UploadExpirySeconds must be between 1 and 604800", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_S3WithoutBucketOrWithHalfTheCredentials_Refused()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Blobs"] = "s3",
            ["Storage:S3:ServiceUrl"] = "ftp://example.com",
            ["Storage:S3:SecretKey"] = "the-secret-value",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Storage:S3:Bucket is required", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Storage:S3:ServiceUrl must be an http:// or https:// URL", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Storage:S3:AccessKey and Storage:S3:SecretKey go together", StringComparison.Ordinal));
        Assert.DoesNotContain(ex.Failures, f => f.Contains("the-secret-value", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_S3_ReportedWithBucketAndAccessKeyButNotTheSecret()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Blobs"] = "s3",
            ["Storage:S3:ServiceUrl"] = "http://127.0.0.1:9",
            ["Storage:S3:Bucket"] = "media",
            ["Storage:S3:AccessKey"] = "AKIDEXAMPLE",
            ["Storage:S3:SecretKey"] = "the-secret-value",
            ["Storage:S3:ForcePathStyle"] = "true",
        });

        var blobs = Assert.Single(server.Server.App.Services.GetRequiredService<AdapterReport>().Entries, e => e.Port == "blobs").Adapter;

        Assert.Contains("bucket media at http://127.0.0.1:9", blobs, StringComparison.Ordinal);
        Assert.Contains("AKIDEXAMPLE", blobs, StringComparison.Ordinal);
        Assert.DoesNotContain("the-secret-value", blobs, StringComparison.Ordinal);
    }
}
