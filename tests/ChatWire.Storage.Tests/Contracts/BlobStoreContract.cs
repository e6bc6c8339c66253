using System.Net;
using System.Security.Cryptography;
using ChatWire.Storage.Blobs;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>
/// Every IBlobStore adapter's behaviour, with real uploads and downloads over HTTP using what the store hands
/// out. An adapter's class supplies the store and, for relative URLs (the local store), the base address that
/// serves them (the gateway's <c>/v1/blobs</c> endpoints). Compiled into ChatWire.Gateway.Tests too, for the
/// local store, which needs the gateway to serve its URLs.
/// </summary>
public abstract class BlobStoreContract : IAsyncLifetime
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private IBlobStore? _store;

    protected IBlobStore Store => _store ?? throw new InvalidOperationException("The store is not created yet.");

    protected abstract Task<IBlobStore> CreateStoreAsync();

    protected abstract Task DisposeStoreAsync(IBlobStore store);

    /// <summary>What relative URLs are resolved against; null when the store makes absolute URLs only.</summary>
    protected virtual Uri? BaseAddress => null;

    /// <summary>
    /// Whether the server behind the URLs refuses an upload outside its grant (expired, another key, another
    /// size) itself. Real S3 does (the POST policy); s3rver ignores the policy, so for it the contract checks
    /// that the policy pins the grant (<see cref="AssertPolicyPinsGrant"/>) and that the server-side check
    /// (<see cref="BlobUploads.CheckAsync"/>) refuses what got through.
    /// </summary>
    protected virtual bool ServerEnforcesGrant => true;

    /// <summary>For a store whose server does not enforce its grants: the grant's own terms pin key, size and expiry.</summary>
    protected virtual void AssertPolicyPinsGrant(BlobUploadGrant grant, string key, long size) =>
        throw new InvalidOperationException("A store whose server does not enforce its grants must say how its grants pin them.");

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }
    }

    [Fact]
    public async Task Upload_ExactSize_AcceptedAndDownloadsTheSameBytes()
    {
        var key = await NewKeyAsync();
        var bytes = RandomNumberGenerator.GetBytes(70_001);
        var grant = await Store.CreateUploadGrantAsync(key, bytes.Length, DateTimeOffset.UtcNow.AddMinutes(5));

        var status = await UploadAsync(grant, bytes);

        Assert.True(IsSuccess(status), $"upload answered {status}");
        Assert.Equal(BlobUploadCheck.Accepted, await BlobUploads.CheckAsync(Store, key, bytes.Length, grant.ExpiresAt));
        Assert.Equal(bytes.Length, (await Store.GetInfoAsync(key))!.Size);
        var download = await Http.GetAsync(Resolve(await Store.CreateDownloadUrlAsync(key, DateTimeOffset.UtcNow.AddMinutes(5))));
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(bytes, await download.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public async Task Upload_WrongSize_NotAccepted(int difference)
    {
        var key = await NewKeyAsync();
        const int Granted = 5_000;
        var grant = await Store.CreateUploadGrantAsync(key, Granted, DateTimeOffset.UtcNow.AddMinutes(5));

        var status = await UploadAsync(grant, RandomNumberGenerator.GetBytes(Granted + difference));

        var check = await BlobUploads.CheckAsync(Store, key, Granted, grant.ExpiresAt);
        Assert.True(check is BlobUploadCheck.Missing or BlobUploadCheck.WrongSize, $"upload answered {status}, then the check said {check}");
        if (difference > 0 && ServerEnforcesGrant)
        {
            // A longer body is refused as it arrives, and nothing of it is kept.
            Assert.False(IsSuccess(status));
            Assert.Null(await Store.GetInfoAsync(key));
        }
    }

    [Fact]
    public async Task Upload_ExpiredGrant_Refused()
    {
        var key = await NewKeyAsync();
        var bytes = RandomNumberGenerator.GetBytes(100);
        var grant = await Store.CreateUploadGrantAsync(key, bytes.Length, DateTimeOffset.UtcNow - BlobUploads.LateWriteTolerance - TimeSpan.FromMinutes(1));

        var status = await UploadAsync(grant, bytes);

        var check = await BlobUploads.CheckAsync(Store, key, bytes.Length, grant.ExpiresAt);
        if (ServerEnforcesGrant)
        {
            Assert.False(IsSuccess(status));
            Assert.Equal(BlobUploadCheck.Missing, check);
        }
        else
        {
            AssertPolicyPinsGrant(grant, key, bytes.Length);
            Assert.Equal(BlobUploadCheck.Late, check);
        }
    }

    [Fact]
    public async Task Upload_KeyOutsideGrant_Refused()
    {
        var key = await NewKeyAsync();
        var other = await NewKeyAsync();
        var bytes = RandomNumberGenerator.GetBytes(100);
        var grant = await Store.CreateUploadGrantAsync(key, bytes.Length, DateTimeOffset.UtcNow.AddMinutes(5));

        var status = await UploadAsync(grant, bytes, otherKey: other);

        Assert.Null(await Store.GetInfoAsync(key));
        if (ServerEnforcesGrant)
        {
            Assert.False(IsSuccess(status));
            Assert.Null(await Store.GetInfoAsync(other));
        }
        else
        {
            AssertPolicyPinsGrant(grant, key, bytes.Length);
            await Store.DeleteAsync(other);
        }
    }

    [Fact]
    public async Task Delete_Uploaded_GoneAndNoLongerDownloadable()
    {
        var key = await NewKeyAsync();
        var bytes = RandomNumberGenerator.GetBytes(10);
        var grant = await Store.CreateUploadGrantAsync(key, bytes.Length, DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.True(IsSuccess(await UploadAsync(grant, bytes)));

        await Store.DeleteAsync(key);
        await Store.DeleteAsync(key);

        Assert.Null(await Store.GetInfoAsync(key));
        Assert.Equal(BlobUploadCheck.Missing, await BlobUploads.CheckAsync(Store, key, bytes.Length, grant.ExpiresAt));
        var download = await Http.GetAsync(Resolve(await Store.CreateDownloadUrlAsync(key, DateTimeOffset.UtcNow.AddMinutes(5))));
        Assert.False(download.IsSuccessStatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../etc/passwd")]
    [InlineData("a/b")]
    [InlineData(".token-key")]
    public async Task CreateUploadGrantAsync_KeyNotMadeByTheServer_Throws(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateUploadGrantAsync(key, 1, DateTimeOffset.UtcNow.AddMinutes(1)));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.GetInfoAsync(key));
    }

    /// <summary>Uploads as a client does with <paramref name="grant"/>; <paramref name="otherKey"/> tries another key with it.</summary>
    protected async Task<HttpStatusCode> UploadAsync(BlobUploadGrant grant, byte[] bytes, string? otherKey = null)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var url = Resolve(grant.Url);
        HttpRequestMessage request;
        if (grant.Method == "PUT")
        {
            if (otherKey is not null)
            {
                var segments = url.AbsolutePath.Split('/');
                segments[^1] = otherKey;
                url = new UriBuilder(url) { Path = string.Join('/', segments) }.Uri;
            }

            request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new ByteArrayContent(bytes) };
        }
        else
        {
            var form = new MultipartFormDataContent();
            foreach (var (name, value) in grant.Fields)
            {
                form.Add(new StringContent(name == "key" && otherKey is not null ? otherKey : value), name);
            }

            form.Add(new ByteArrayContent(bytes), "file", "blob");
            request = new HttpRequestMessage(HttpMethod.Post, url) { Content = form };
        }

        foreach (var (name, value) in grant.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content!.Headers.Remove(name);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var response = await Http.SendAsync(request);
        return response.StatusCode;
    }

    protected Uri Resolve(Uri url) => url.IsAbsoluteUri ? url : new Uri(BaseAddress ?? throw new InvalidOperationException("A relative URL needs a base address."), url);

    /// <summary>A fresh key as the server makes them (an attachment id); an adapter may register it where its server expects one.</summary>
    protected virtual Task<string> NewKeyAsync() => Task.FromResult(Guid.CreateVersion7().ToString("D"));

    private static bool IsSuccess(HttpStatusCode status) => (int)status is >= 200 and < 300;
}
