using System.Text.Json;
using ChatWire.Storage.Blobs;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Tests.Shared;

namespace ChatWire.Storage.Tests.Blobs;

/// <summary>
/// The blob contract against the real S3-compatible server scripts/services.sh starts (s3rver). s3rver stores a
/// presigned POST without checking its policy, so the contract checks the policy document here and relies on
/// the server-side check for what got through; real S3 refuses those uploads itself.
/// </summary>
public sealed class S3BlobStoreTests : BlobStoreContract
{
    protected override bool ServerEnforcesGrant => false;

    protected override Task<IBlobStore> CreateStoreAsync() => Task.FromResult<IBlobStore>(NewStore());

    protected override Task DisposeStoreAsync(IBlobStore store)
    {
        ((S3BlobStore)store).Dispose();
        return Task.CompletedTask;
    }

    internal static S3BlobStore NewStore() =>
        new(new S3BlobStoreOptions(BackingServices.S3, BackingServices.S3Bucket, "us-east-1", BackingServices.S3AccessKey, BackingServices.S3SecretKey, ForcePathStyle: true));

    protected override void AssertPolicyPinsGrant(BlobUploadGrant grant, string key, long size)
    {
        var policyField = grant.Fields.Single(f => f.Key.Equals("policy", StringComparison.OrdinalIgnoreCase)).Value;
        using var policy = JsonDocument.Parse(Convert.FromBase64String(policyField));
        var expiration = DateTimeOffset.Parse(policy.RootElement.GetProperty("expiration").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiration, grant.ExpiresAt.AddSeconds(-1), grant.ExpiresAt.AddSeconds(1));
        var conditions = policy.RootElement.GetProperty("conditions").EnumerateArray().Select(c => c.GetRawText()).ToList();
        Assert.Contains($"{{\"key\":\"{key}\"}}", conditions.Select(c => c.Replace(" ", "", StringComparison.Ordinal)));
        Assert.Contains($"[\"content-length-range\",{size},{size}]", conditions.Select(c => c.Replace(" ", "", StringComparison.Ordinal)));
        Assert.Equal(key, grant.Fields["key"]);
    }

    [Fact]
    public async Task CreateUploadGrantAsync_Any_PresignedPostToTheBucket()
    {
        var key = await NewKeyAsync();

        var grant = await Store.CreateUploadGrantAsync(key, 42, DateTimeOffset.UtcNow.AddMinutes(5));

        Assert.Equal("POST", grant.Method);
        Assert.StartsWith(BackingServices.S3, grant.Url.ToString(), StringComparison.Ordinal);
        AssertPolicyPinsGrant(grant, key, 42);
    }
}
