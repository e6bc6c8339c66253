using System.Net;
using ChatWire.Tests.Shared;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// Several gateway processes (real child processes) sharing the distributed backends: a fresh database on
/// the suite's MariaDB primary (with its replica for the directory's stale-tolerant reads) for the directory
/// and the messages, and Redis for the bus, presence and the membership cache's shared tier.
/// </summary>
internal sealed class Cluster : IAsyncDisposable
{
    private readonly string _database;
    private readonly Dictionary<string, string> _settings;
    private readonly bool _relayRedis;
    private readonly Dictionary<GatewayChild, LinkProxy> _redisLinks = [];

    private Cluster(string database, Dictionary<string, string> settings, bool relayRedis)
    {
        _database = database;
        _settings = settings;
        _relayRedis = relayRedis;
    }

    public List<GatewayChild> Nodes { get; } = [];

    public GatewayChild this[int index] => Nodes[index];

    /// <summary>
    /// Starts <paramref name="count"/> nodes, the first alone (it creates and migrates the database). With
    /// <paramref name="relayRedis"/>, each node reaches Redis through a <see cref="LinkProxy"/> of its own, which
    /// <see cref="RedisLink"/> can cut; the configuration must then start with Redis's host:port.
    /// </summary>
    public static async Task<Cluster> StartAsync(int count, string? redisConfiguration = null, IReadOnlyDictionary<string, string>? extra = null, bool relayRedis = false)
    {
        var database = BackingServices.NewDatabaseName("cluster");
        var settings = new Dictionary<string, string>
        {
            ["Storage:Directory"] = "mysql",
            ["Storage:Messages"] = "mysql",
            ["Storage:MySql:ConnectionString"] = BackingServices.MySqlDatabase(database),
            ["Storage:MySql:ReplicaConnectionString"] = BackingServices.MySqlReplicaDatabase(database),
            ["Routing:Bus"] = "redis",
            ["Routing:Redis:Configuration"] = redisConfiguration ?? BackingServices.Redis,
            ["Limits:SendMessagesPerSecondPerUser"] = "0",
            ["Limits:SendBytesPerSecondPerUser"] = "0",
            ["Limits:SendMessagesPerSecondPerDevice"] = "0",
            ["Limits:SendBytesPerSecondPerDevice"] = "0",
            ["Limits:SendMessagesPerSecondPerConversation"] = "0",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var cluster = new Cluster(database, settings, relayRedis);
        try
        {
            for (var i = 0; i < count; i++)
            {
                await cluster.AddNodeAsync();
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>Starts one more node with the same settings (e.g. to take over from one that was killed).</summary>
    public async Task<GatewayChild> AddNodeAsync()
    {
        var settings = _settings;
        LinkProxy? link = null;
        if (_relayRedis)
        {
            var configuration = _settings["Routing:Redis:Configuration"];
            var comma = configuration.IndexOf(',', StringComparison.Ordinal);
            var redis = IPEndPoint.Parse(comma < 0 ? configuration : configuration[..comma]);
            link = LinkProxy.Start(redis);
            settings = new Dictionary<string, string>(_settings) { ["Routing:Redis:Configuration"] = link.Endpoint + (comma < 0 ? "" : configuration[comma..]) };
        }

        GatewayChild node;
        try
        {
            node = await GatewayChild.StartAsync(4096, settings);
        }
        catch
        {
            if (link is not null)
            {
                await link.DisposeAsync();
            }

            throw;
        }

        lock (Nodes)
        {
            Nodes.Add(node);
            if (link is not null)
            {
                _redisLinks[node] = link;
            }
        }

        return node;
    }

    /// <summary>The link between <paramref name="node"/> and Redis, for a cluster started with relayRedis.</summary>
    public LinkProxy RedisLink(GatewayChild node)
    {
        lock (Nodes)
        {
            return _redisLinks[node];
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        foreach (var link in _redisLinks.Values)
        {
            await link.DisposeAsync();
        }

        try
        {
            await using var connection = new MySqlConnector.MySqlConnection(BackingServices.MySql);
            await connection.OpenAsync();
            await using var drop = new MySqlConnector.MySqlCommand($"DROP DATABASE IF EXISTS `{_database}`", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (MySqlConnector.MySqlException)
        {
        }
    }
}
