using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace ChatWire.Storage.Blobs;

/// <summary>Where the S3 blob store's bucket is and how to sign for it.</summary>
/// <param name="ServiceUrl">The S3 endpoint, e.g. <c>https://s3.eu-west-1.amazonaws.com</c>; empty = AWS for <paramref name="Region"/>.</param>
/// <param name="Bucket">An existing bucket (the store does not create it).</param>
/// <param name="Region">The signing region, e.g. <c>us-east-1</c>.</param>
/// <param name="AccessKey">Empty = the SDK's default credentials (environment, instance role).</param>
/// <param name="SecretKey">Never logged.</param>
/// <param name="ForcePathStyle">Path-style URLs (<c>host/bucket/key</c>): for S3-compatible servers.</param>
public sealed record S3BlobStoreOptions(string ServiceUrl, string Bucket, string Region, string AccessKey, string SecretKey, bool ForcePathStyle);

/// <summary>
/// Attachments in an S3 bucket. Uploads go through a presigned POST whose policy pins the exact key, the exact
/// size (<c>content-length-range</c>) and the expiry, so S3 refuses anything else; after the client says it is
/// done the server reads the object's size with a HEAD (<see cref="GetInfoAsync"/>), because not every
/// S3-compatible server enforces the policy. Downloads are presigned GETs.
/// A presigned POST is not write-once: until the grant expires its holder (the uploader) can replace the object
/// with other bytes of the same size, also after completing. Receivers check the SHA-256 that the encrypted
/// message carries, so that is a failed download, as a message naming a wrong hash would be, never other content.
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;

    public S3BlobStore(S3BlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AmazonS3Config { ForcePathStyle = options.ForcePathStyle };
        if (string.IsNullOrWhiteSpace(options.ServiceUrl))
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        }
        else
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }

        _client = string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
        _bucket = options.Bucket;
    }

    public async Task<BlobUploadGrant> CreateUploadGrantAsync(string key, long size, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var request = new CreatePresignedPostRequest
        {
            BucketName = _bucket,
            Key = key,
            Expires = expiresAt.UtcDateTime,

            // Null by default in SDK v4.
            Conditions = [],
        };
        request.Conditions.Add(S3PostCondition.ExactMatch("key", key));
        request.Conditions.Add(S3PostCondition.ContentLengthRange(size, size));
        var post = await _client.CreatePresignedPostAsync(request);
        var fields = new Dictionary<string, string>(post.Fields, StringComparer.Ordinal);
        return new BlobUploadGrant("POST", new Uri(post.Url), new Dictionary<string, string>(), fields, expiresAt);
    }

    public async Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        try
        {
            var metadata = await _client.GetObjectMetadataAsync(_bucket, key, cancellationToken);
            var written = metadata.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.MinValue;
            return new BlobInfo(metadata.ContentLength, written);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<Uri> CreateDownloadUrlAsync(string key, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        var url = await _client.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = _bucket,
            Key = key,
            Verb = HttpVerb.GET,
            Expires = expiresAt.UtcDateTime,
            Protocol = _client.Config.ServiceURL?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true ? Protocol.HTTP : Protocol.HTTPS,
        });
        return new Uri(url);
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        await _client.DeleteObjectAsync(_bucket, key, cancellationToken);
    }

    public void Dispose() => _client.Dispose();

    private static void CheckKey(string key)
    {
        if (!BlobUploads.IsValidKey(key))
        {
            throw new ArgumentException("A blob key is 1 to 128 ASCII letters, digits, '-' or '_'.", nameof(key));
        }
    }
}
