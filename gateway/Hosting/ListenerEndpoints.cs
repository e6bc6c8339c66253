using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ChatWire.Gateway.Hosting;

/// <summary>The listeners as bound (port 0 in configuration becomes the real port once the host has started).</summary>
public sealed class ListenerEndpoints
{
    /// <summary>Connection item that tells an HTTP request which listener it arrived on.</summary>
    internal const string ListenerItem = "chatwire.listener";

    internal ListenOptions? Tcp { get; set; }

    internal ListenOptions? Tls { get; set; }

    internal ListenOptions? Noise { get; set; }

    internal ListenOptions? Http { get; set; }

    internal ListenOptions? Management { get; set; }

    public IPEndPoint? TcpEndPoint => Tcp?.IPEndPoint;

    public IPEndPoint? TlsEndPoint => Tls?.IPEndPoint;

    public IPEndPoint? NoiseEndPoint => Noise?.IPEndPoint;

    public IPEndPoint? HttpEndPoint => Http?.IPEndPoint;

    public IPEndPoint? ManagementEndPoint => Management?.IPEndPoint;
}
