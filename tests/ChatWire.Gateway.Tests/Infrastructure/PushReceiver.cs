using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>One request a <see cref="PushReceiver"/> took.</summary>
internal sealed record ReceivedPush(string Protocol, string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var value) ? value : string.Empty;

    public System.Text.Json.JsonElement Json => System.Text.Json.JsonDocument.Parse(Body).RootElement;
}

/// <summary>The answer a <see cref="PushReceiver"/> gives: status, JSON body (or none) and extra headers.</summary>
internal sealed record PushAnswer(int Status, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null)
{
    public static PushAnswer Ok { get; } = new(200);
}

/// <summary>
/// A local HTTPS server in the test process that plays a push provider: Kestrel on 127.0.0.1 with a
/// self-signed certificate (HTTP/1.1 and HTTP/2, as APNs requires HTTP/2), every request recorded, each
/// answered by <see cref="Answer"/> (200 unless a test says otherwise). The gateway trusts the certificate
/// through <c>Push:TrustedCertificatePath</c> (<see cref="CertificatePath"/>).
/// </summary>
internal sealed class PushReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<ReceivedPush> _received = Channel.CreateUnbounded<ReceivedPush>();
    private readonly string _directory;

    private PushReceiver(WebApplication app, string directory, string certificatePath)
    {
        _app = app;
        _directory = directory;
        CertificatePath = certificatePath;
    }

    /// <summary>PEM of the receiver's certificate, for <c>Push:TrustedCertificatePath</c>.</summary>
    public string CertificatePath { get; }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>How each request is answered; may check the request and throw to fail it (the failure becomes a 500 and is kept).</summary>
    public Func<ReceivedPush, PushAnswer> Answer { get; set; } = _ => PushAnswer.Ok;

    /// <summary>
    /// Awaited after a request is recorded (so <see cref="NextAsync"/> sees it) and before it is answered: a
    /// test holds the sender mid-send with it. None by default.
    /// </summary>
    public Func<ReceivedPush, Task>? Hold { get; set; }

    /// <summary>Requests the answer function threw on: the test asserts there are none.</summary>
    public List<Exception> Faults { get; } = [];

    public static async Task<PushReceiver> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "chatwire-push-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var certificate = CreateCertificate();
        var certificatePath = Path.Combine(directory, "receiver.pem");
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem());

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        var receiver = new PushReceiver(app, directory, certificatePath);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Urls.First();
        receiver.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return receiver;
    }

    /// <summary>The next request, or a failure after <paramref name="wait"/> (30 s by default).</summary>
    public async Task<ReceivedPush> NextAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? TimeSpan.FromSeconds(30));
        try
        {
            return await _received.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No push request arrived within the wait.");
        }
    }

    /// <summary>Requests taken and not yet read with <see cref="NextAsync"/>.</summary>
    public List<ReceivedPush> Drain()
    {
        var list = new List<ReceivedPush>();
        while (_received.Reader.TryRead(out var push))
        {
            list.Add(push);
        }

        return list;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        var push = new ReceivedPush(context.Request.Protocol, context.Request.Method, context.Request.Path + context.Request.QueryString, headers, body.ToArray());
        PushAnswer answer;
        try
        {
            answer = Answer(push);
        }
        catch (Exception ex)
        {
            lock (Faults)
            {
                Faults.Add(ex);
            }

            answer = new PushAnswer(500);
        }

        _received.Writer.TryWrite(push);
        if (Hold is { } hold)
        {
            await hold(push);
        }

        context.Response.StatusCode = answer.Status;
        foreach (var (name, value) in answer.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (answer.Body is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer.Body);
        }
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        // Through PFX so that the key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
