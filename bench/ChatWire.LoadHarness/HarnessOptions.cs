using System.Globalization;

namespace ChatWire.LoadHarness;

internal sealed record HarnessOptions
{
    public required string Scenario { get; init; }

    public string GatewayDll { get; init; } = DefaultGatewayDll();

    public string Output { get; init; } = string.Empty;

    public string Gc { get; init; } = "default";

    public int[] Counts { get; init; } = [7_500, 15_000];

    /// <summary>Gateway:ProtocolTransport for the gateway child (lean or sockets); empty leaves the gateway's default.</summary>
    public string Transport { get; init; } = string.Empty;

    /// <summary>Idle clients connect to the TLS listener instead of plain TCP.</summary>
    public bool Tls { get; init; }

    /// <summary>Load clients connect to the gateway's Noise listener (IK, the key from server-info) instead of plain TCP.</summary>
    public bool Noise { get; init; }

    public int ConnectionsPerUser { get; init; } = 50;

    /// <summary>Idle: every connection SYNCs once after AUTH, as a client does on connecting, before it idles.</summary>
    public bool SyncOnConnect { get; init; }

    /// <summary>Idle: seconds to hold the connections after the last reading (to inspect the gateway, e.g. with dotnet-gcdump).</summary>
    public int HoldSeconds { get; init; }

    /// <summary>
    /// Idle: connections opened (and SYNCed, with <see cref="SyncOnConnect"/>) and closed again before the first count,
    /// so that what a node pays once (the JIT's tier-ups, thread-pool threads) is paid before the slope is read.
    /// </summary>
    public int Warmup { get; init; }

    /// <summary>Idle: seconds between the last connection of a count and its reading.</summary>
    public int SettleSeconds { get; init; } = 2;

    public int SourceAddresses { get; init; } = 4;

    public int Connections { get; init; } = 32;

    public int Window { get; init; } = 8;

    public int Messages { get; init; } = 40_000;

    public int ContentBytes { get; init; } = 200;

    public int Recipients { get; init; } = 1_000;

    public int CeilingRows { get; init; } = 100_000;

    /// <summary>send: the message and directory store of the gateway, sqlite (embedded) or mysql (through scripts/services.sh).</summary>
    public string Store { get; init; } = "sqlite";

    public int CeilingBatch { get; init; } = 1_000;

    /// <summary>send: how many times each ceiling is measured; the fastest run is the ceiling.</summary>
    public int CeilingRuns { get; init; } = 2;

    public int Nodes { get; init; } = 3;

    /// <summary>cluster-idle: client child processes holding the connections (0: one per 15,000).</summary>
    public int ClientProcesses { get; init; }

    public int LocalRecipients { get; init; }

    public int ContentionMessages { get; init; } = 6_000;

    public int ContentionWindow { get; init; } = 16;

    /// <summary>Storms: connections being set up (TCP connect to AUTH_OK) at once.</summary>
    public int InFlight { get; init; } = 500;

    /// <summary>
    /// Storms: the bound on each storm phase; connections not done by then count as TIMEOUT. idle, fanout, dm and
    /// cluster: the bound on each phase (a ramp, a warm-up round, the measured run); past it the run fails.
    /// </summary>
    public int TimeoutSeconds { get; init; } = 120;

    /// <summary>resume-storm and seed: channels each user is a member of; ceiling: conversations the rows go round-robin over.</summary>
    public int Conversations { get; init; } = 10;

    /// <summary>resume-storm and seed: members per channel.</summary>
    public int Members { get; init; } = 50;

    /// <summary>seed: the data directory to seed (a temporary one when empty).</summary>
    public string DataDirectory { get; init; } = string.Empty;

    /// <summary>
    /// The most connections one harness process holds against one gateway process (idle, fanout, dm, send, the storms,
    /// seed): each side holds one file per connection, and a process may hold at most 20,000 open files here.
    /// </summary>
    public const int MaxClientConnections = 16_000;

    /// <summary>churn: rounds of one session per device.</summary>
    public int Rounds { get; init; } = 20;

    /// <summary>churn: the first rounds left out of the slope (caches filling, the heap finding its size).</summary>
    public int WarmRounds { get; init; } = 3;

    /// <summary>soak: how long the traffic runs.</summary>
    public int Minutes { get; init; } = 20;

    /// <summary>soak: SENDs a second, all users together.</summary>
    public int Rate { get; init; } = 200;

    /// <summary>soak: each user's SENDs per session; then it hangs up, reconnects and SYNCs.</summary>
    public int ReconnectEvery { get; init; } = 500;

    /// <summary>soak: seconds between memory readings.</summary>
    public int IntervalSeconds { get; init; } = 60;

    /// <summary>Gateway settings from --setting KEY=VALUE (cluster scenarios), applied after the scenario's own.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    private static readonly string[] Scenarios = ["idle", "send", "sdk-send", "dm", "fanout", "channel", "sync", "cluster", "cluster-idle", "cluster-churn", "seed", "connect-storm", "resume-storm", "churn", "soak", "ceiling"];

    public const string Usage = """
        usage: ChatWire.LoadHarness idle|send|sdk-send|dm|fanout|channel|sync|cluster|cluster-idle|cluster-churn|seed|connect-storm|resume-storm|churn|soak|ceiling [options]
          common:  --gateway-dll PATH (default gateway/bin/Release/net10.0/ChatWire.Gateway.dll)
                   --gc default|workstation|server   --out FILE.json
                   --transport lean|sockets (Gateway:ProtocolTransport of the gateway; default: the gateway's)
                   send, dm and fanout warm up in rounds of their own traffic until two rounds in a row spend under
                   1 % of their time in the gateway's JIT and the harness's, then measure
                   bounds: one harness process holds at most 16000 connections (the open-file limit); idle, dm,
                   fanout and cluster print a progress line each second while they connect (idle, dm and fanout
                   also while they measure) and fail with exit code 1 when a phase (a ramp, a warm-up round, the
                   measured run) outlasts --timeout-seconds (300 for them)
          idle:    --counts 7500,15000   --per-user 50 (connections per user; users and tokens are seeded into the
                   gateway's fresh directory)   --sources 4   --tls (connect over TLS 1.3) | --noise (over Noise IK)
                   --hold SECONDS (keep the connections open after the last reading, e.g. for dotnet-gcdump)
                   --sync (each connection SYNCs once after AUTH, as a client does on connecting)
                   --warmup N (open and close N such connections first: the JIT's tier-ups and the pool's threads
                   are paid before the slope)   --settle 2 (seconds from a count's last connection to its reading)
          send:    --connections 32   --window 8   --messages 40000   --content-bytes 200
                   --ceiling-rows 100000   --ceiling-batch 1000   --ceiling-runs 2
                   --store sqlite|mysql (mysql: MariaDB from scripts/services.sh, or CHATWIRE_SERVICES_DIR's)
                   two raw insert ceilings follow the run: --ceiling-batch rows per transaction into one conversation
                   (the store's best case), and the run's own shape (one conversation per connection, transactions
                   of the group commit's mean batch in the run); SQLite: each into a fresh file; MySQL: multi-row
                   INSERTs into the run's database, one ceiling after the other; each ceiling is measured
                   --ceiling-runs times and the fastest run counts
          sdk-send: one connection of the .NET SDK shared by --window callers, each awaiting SendAsync in turn, into
                   one channel; the gateway's group commits show how many SENDs reached it together
                   --window 16 (callers)   --messages 20000   --content-bytes 200
          ceiling: the SQLite store's raw insert ceiling alone, no gateway: --ceiling-rows 100000
                   --ceiling-batch 1000 (rows per transaction)   --conversations 1 (rows round-robin over them)
                   --content-bytes 200
          sync:    --connections 1000 (conversations of the syncing user)   --messages 5 (per conversation)
          dm:      --connections 32 (users, in pairs; each pair in its own DM)   --window 8   --messages 40000 (all users)
                   --content-bytes 200
          fanout (or channel): one sender into a channel of --recipients connections
                   --recipients 1000   --per-user 50   --sources 4   --messages 2000   --window 50
                   --content-bytes 200
          cluster: starts Redis and MariaDB (scripts/services.sh) and N nodes on them; then 1 sender on node 1
                   → recipients on the other nodes, then one sender per node into the same conversation
                   --nodes 3   --recipients 100   --local-recipients 0 (of them on node 1)   --per-user 10
                   --sources 4   --messages 20000   --window 50   --content-bytes 200
                   --contention-messages 6000 (all senders together)   --contention-window 16 (each)
          cluster-idle: Redis and MariaDB (or the ones CHATWIRE_SERVICES_DIR names), a fresh MySQL database seeded
                   with users, devices and tokens, N nodes each under prlimit --nofile=20000, and idle authenticated
                   connections held by client child processes; reads every node's AUTH_OK count, managed heap and
                   RSS and the kernel's slab at each count; SIGTERM to everything at the end
                   --nodes 7   --counts 25000,50000,100000 (or --connections N: N/4, N/2, N)   --client-processes 0
                   (0: one per 15,000 connections)   --per-user 10   --sources 16   --in-flight 64 (per client process)
                   --hold 10   --timeout-seconds 900 (each ramp)
          cluster-churn: Redis and MariaDB (or CHATWIRE_SERVICES_DIR's) and N nodes; one account in --conversations
                   channels connects and hangs up in a loop on node 1 from --connections tasks (one source address each)
                   for --hold seconds, while another user connects and AUTHs there every 250 ms (alone first, for half
                   as long: the baseline); that user's AUTH times, the churn's connects/s, Redis's SUBSCRIBE and
                   UNSUBSCRIBE calls per second (INFO commandstats) and node 1's subscribed topics, in each phase
                   --nodes 2   --conversations 1000   --connections 8   --hold 30
                   --setting KEY=VALUE (any gateway setting, e.g. Gateway:TopicLingerMs=0; repeatable)
          seed:    writes users, device sessions and tokens straight into a data directory's directory.db (no
                   password hashing; the storms seed the same way into their gateway's fresh directory), plus one
                   team whose channels each hold --members users, each user in --conversations channels (0: none);
                   writes DIR/loadharness-credentials.csv (user_id,device_id,session_token; owner-only)
                   --connections 5000 (devices)   --per-user 1   --conversations 10   --members 50
                   --data-dir DIR (default: a new temporary directory; a gateway serves it with Gateway:DataDirectory)
          connect-storm: N seeded devices connect and AUTH at once, as fast as the gateway admits them
                   --connections 5000 (at most 16000)   --per-user 1   --in-flight 500 (set-ups at once)
                   --sources 4   --timeout-seconds 120   --tls | --noise
          resume-storm: N seeded devices connect and SYNC, all drop, a writer stores --messages in every channel,
                   all reconnect at once, SYNC and fetch what they missed (HISTORY); time until all caught up
                   --connections 5000 (at most 16000)   --per-user 1   --conversations 10   --members 50
                   --messages 10 (per channel)   --content-bytes 200   --in-flight 500   --sources 4
                   --timeout-seconds 120   --tls | --noise
          churn:   the leak check: --rounds of one short session per device (connect, SYNC, PRESENCE_WATCH of ten
                   team-mates, --messages SENDs, HISTORY, READ, hang up); the gateway's heap (after a forced full GC)
                   and RSS after each round, with nothing connected, and their slope over the rounds after the first
                   --warm-rounds, per round and per session
                   --connections 5000 (at most 16000)   --per-user 1   --conversations 10   --members 50
                   --rounds 20   --warm-rounds 3   --messages 2 (per session)   --content-bytes 200   --in-flight 500
                   --sources 4   --timeout-seconds 120   --hold SECONDS (after the last round)   --tls | --noise
          soak:    the leak check for sessions that stay: users in DM pairs and one shared channel talk at a steady
                   rate (four SENDs in five to the partner, one to the channel; TYPING at most every 3 s; a REACT on
                   every fifth message from the partner, a READ on every tenth); each user hangs up, reconnects and
                   SYNCs after --reconnect-every SENDs; the gateway's heap (after a forced full GC) and RSS every
                   --interval seconds, and their slope over the last two thirds, per minute and per 1,000 messages
                   --connections 32 (users)   --rate 200 (SENDs/s, all users)   --minutes 20   --interval 60
                   --reconnect-every 500   --window 8   --content-bytes 200
        """;

    public static HarnessOptions Parse(string[] args)
    {
        if (args.Length == 0 || !Scenarios.Contains(args[0]))
        {
            throw new ArgumentException($"The first argument is the scenario: {string.Join(", ", Scenarios)}.");
        }

        // "channel" is the fan-out into a channel of a chosen size under the name the scenario list uses.
        var options = new HarnessOptions { Scenario = args[0] == "channel" ? "fanout" : args[0] };
        if (options.Scenario is "idle" or "dm" or "fanout" or "cluster")
        {
            options = options with { TimeoutSeconds = 300 };
        }

        if (options.Scenario == "fanout")
        {
            options = options with { Messages = 2_000, Window = 50 };
        }
        else if (options.Scenario == "cluster")
        {
            options = options with { Messages = 20_000, Window = 50, Recipients = 100, ConnectionsPerUser = 10 };
        }
        else if (options.Scenario == "cluster-idle")
        {
            options = options with
            {
                Nodes = 7,
                Counts = [25_000, 50_000, 100_000],
                ConnectionsPerUser = 10,
                SourceAddresses = 16,
                InFlight = 64,
                HoldSeconds = 10,
                TimeoutSeconds = 900,
            };
        }
        else if (options.Scenario == "sdk-send")
        {
            options = options with { Messages = 20_000, Window = 16 };
        }
        else if (options.Scenario == "sync")
        {
            options = options with { Messages = 5, Connections = 1_000 };
        }
        else if (options.Scenario == "ceiling")
        {
            options = options with { Conversations = 1 };
        }
        else if (options.Scenario is "seed" or "connect-storm" or "resume-storm")
        {
            options = options with { Connections = 5_000, ConnectionsPerUser = 1, Messages = 10 };
        }
        else if (options.Scenario == "cluster-churn")
        {
            options = options with { Nodes = 2, Conversations = 1_000, Connections = 8, HoldSeconds = 30 };
        }
        else if (options.Scenario == "churn")
        {
            options = options with { Connections = 5_000, ConnectionsPerUser = 1, Messages = 2 };
        }

        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] == "--tls")
            {
                options = options with { Tls = true };
                continue;
            }

            if (args[i] == "--noise")
            {
                options = options with { Noise = true };
                continue;
            }

            if (args[i] == "--sync")
            {
                options = options with { SyncOnConnect = true };
                continue;
            }

            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--gateway-dll" => options with { GatewayDll = Path.GetFullPath(value) },
                "--out" => options with { Output = value },
                "--gc" => value is "default" or "workstation" or "server" ? options with { Gc = value } : throw new ArgumentException("--gc takes default, workstation or server."),
                "--transport" => value is "lean" or "sockets" ? options with { Transport = value } : throw new ArgumentException("--transport takes lean or sockets."),
                "--counts" => options with { Counts = value.Split(',').Select(Int).ToArray() },
                "--per-user" => options with { ConnectionsPerUser = Int(value) },
                "--hold" => options with { HoldSeconds = Int(value) },
                "--minutes" => options with { Minutes = Int(value) },
                "--rate" => options with { Rate = Int(value) },
                "--reconnect-every" => options with { ReconnectEvery = Int(value) },
                "--interval" => options with { IntervalSeconds = Int(value) },
                "--warmup" => options with { Warmup = value == "0" ? 0 : Int(value) },
                "--settle" => options with { SettleSeconds = value == "0" ? 0 : Int(value) },
                "--sources" => options with { SourceAddresses = Int(value) },
                "--connections" when options.Scenario == "cluster-idle" => options with { Connections = Int(value), Counts = [Int(value) / 4, Int(value) / 2, Int(value)] },
                "--connections" => options with { Connections = Int(value) },
                "--client-processes" => options with { ClientProcesses = Int(value) },
                "--window" => options with { Window = Int(value) },
                "--messages" => options with { Messages = Int(value) },
                "--content-bytes" => options with { ContentBytes = Int(value) },
                "--recipients" => options with { Recipients = Int(value) },
                "--ceiling-rows" => options with { CeilingRows = Int(value) },
                "--ceiling-batch" => options with { CeilingBatch = Int(value) },
                "--ceiling-runs" => options with { CeilingRuns = Int(value) },
                "--store" => value is "sqlite" or "mysql" ? options with { Store = value } : throw new ArgumentException("--store takes sqlite or mysql."),
                "--nodes" => options with { Nodes = Int(value) },
                "--local-recipients" => options with { LocalRecipients = value == "0" ? 0 : Int(value) },
                "--contention-messages" => options with { ContentionMessages = Int(value) },
                "--contention-window" => options with { ContentionWindow = Int(value) },
                "--in-flight" => options with { InFlight = Int(value) },
                "--timeout-seconds" => options with { TimeoutSeconds = Int(value) },
                "--conversations" => options with { Conversations = value == "0" ? 0 : Int(value) },
                "--members" => options with { Members = Int(value) },
                "--rounds" => options with { Rounds = Int(value) },
                "--warm-rounds" => options with { WarmRounds = value == "0" ? 0 : Int(value) },
                "--data-dir" => options with { DataDirectory = Path.GetFullPath(value) },
                "--setting" => options with { Settings = WithSetting(options.Settings, value) },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
            i++;
        }

        if (options.Counts.Length < 2 || options.Counts.Zip(options.Counts.Skip(1)).Any(p => p.First >= p.Second))
        {
            throw new ArgumentException("--counts needs at least two increasing counts.");
        }

        if (options.Scenario is "seed" or "connect-storm" or "resume-storm" or "churn" or "dm" or "send" && options.Connections > MaxClientConnections)
        {
            throw new ArgumentException($"--connections is at most {MaxClientConnections} for {options.Scenario} (the open-file limit).");
        }

        if (options.Scenario == "idle" && Math.Max(options.Counts[^1], options.Warmup) > MaxClientConnections)
        {
            throw new ArgumentException($"idle: --counts and --warmup are at most {MaxClientConnections} (the open-file limit); cluster-idle spreads more over processes.");
        }

        if (options.Scenario is "fanout" or "cluster" && options.Recipients + 1 > MaxClientConnections)
        {
            throw new ArgumentException($"{options.Scenario}: --recipients is at most {MaxClientConnections - 1} (with the sender, {MaxClientConnections} connections: the open-file limit).");
        }

        if (options.Scenario == "cluster-idle")
        {
            ClusterIdleScenario.Validate(options);
        }

        if (options.Scenario == "soak" && options.Minutes * 60 / options.IntervalSeconds < 3)
        {
            throw new ArgumentException("soak: --minutes must cover at least three --interval readings.");
        }

        if (options.CeilingRuns < 1)
        {
            throw new ArgumentException("--ceiling-runs is at least 1.");
        }

        if (options.Scenario == "ceiling" && options.Conversations < 1)
        {
            throw new ArgumentException("--conversations is at least 1 for ceiling (the rows go round-robin over them).");
        }

        if (options.Scenario == "ceiling" && options.Store != "sqlite")
        {
            throw new ArgumentException("ceiling measures the SQLite store only; MySQL's ceilings run with send --store mysql.");
        }

        return options;
    }

    private static Dictionary<string, string> WithSetting(IReadOnlyDictionary<string, string> settings, string value)
    {
        var equals = value.IndexOf('=', StringComparison.Ordinal);
        if (equals < 1)
        {
            throw new ArgumentException($"--setting takes KEY=VALUE; got '{value}'.");
        }

        return new Dictionary<string, string>(settings) { [value[..equals]] = value[(equals + 1)..] };
    }

    private static int Int(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"'{value}' is not a positive number.");

    /// <summary>The checkout this harness was built in (the directory holding ChatWire.sln).</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ChatWire.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? ".";
    }

    private static string DefaultGatewayDll() =>
        Path.Combine(RepositoryRoot(), "gateway", "bin", "Release", "net10.0", "ChatWire.Gateway.dll");
}
