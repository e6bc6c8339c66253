using System.Globalization;
using System.Net;
using System.Net.Mime;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Keys;
using ChatWire.Gateway.Push;
using ChatWire.Protocol;
using ChatWire.Protocol.Noise;
using ChatWire.Storage.Blobs;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Push;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace ChatWire.Gateway.Api;

/// <summary>
/// The limits of every field in <c>/openapi/v1.json</c>: lengths, patterns, formats, ranges, item counts and
/// enumerations. A request field states what the server's validator takes (a client that keeps to it is never
/// refused for its shape), a response field the bounds of anything the server can write there. Each limit is
/// computed from the constant the server enforces (or, for what depends on configuration, from this server's
/// options) rather than a copy of its number, so the document does not drift from the code; the few numbers
/// written here say where they come from. Where the server itself sets no bound (a list as long as what it
/// lists, a string it reads leniently), the field's description says so. Applied by the schema transformer to
/// every object schema's properties (once per type wherever it appears, since nested objects are inline until
/// the framework turns them into references); by CLR type for what needs no table: ids, times and the integer
/// types' ranges.
/// </summary>
internal static class OpenApiLimits
{
    private const string Base64Char = "[A-Za-z0-9+/]";

    /// <summary>What S3 takes in a presigned POST's form fields, all together (its POST Object documentation).</summary>
    private const int MaxS3FormFieldBytes = 20 * 1024;

    /// <summary>Said of a list the server does not bound: its maxItems is the largest list .NET can build.</summary>
    private const string UnboundedNote = "The server sets no limit on how many (maxItems is the largest list it can build).";

    private static readonly Limit Uuid = new() { Format = "uuid", MinLength = Ids.TextLength, MaxLength = Ids.TextLength };

    private static readonly Limit SignupUsername = new()
    {
        MinLength = Validation.MinUsernameLength,
        MaxLength = Validation.MaxUsernameLength,
        Pattern = Validation.UsernamePatternText,
        Note = "Trimmed and folded to lower case before the pattern is checked; 32 hex digits (a UUID) are refused.",
    };

    /// <summary>A username as answered: a sign-up's, or a deleted account's tombstone (IAccountAdminStore.TombstoneName).</summary>
    private static readonly Limit Username = new()
    {
        MinLength = Validation.MinUsernameLength,
        MaxLength = Math.Max(Validation.MaxUsernameLength, IAccountAdminStore.TombstoneName(Guid.Empty).Length),
        Pattern = $"^(?:{UsernameCore}|{Regex.Escape(TombstonePrefix)}[0-9a-f]{{32}})$",
    };

    private static readonly Limit LoginUsername = new()
    {
        MinLength = 1,
        MaxLength = Validation.MaxLoginUsernameLength,
        Pattern = $"^\\s*{CaseInsensitive(UsernameCore)}\\s*$",
        Note = "Matched case-insensitively after trimming: a name no account can have is answered 401 like a wrong password.",
    };

    private static readonly Limit NewPassword = new()
    {
        Format = "password",
        MinLength = Validation.MinPasswordCharacters,
        MaxLength = Validation.MaxPasswordBytes,
        Pattern = $"^[^{CharacterClass(Rune.IsControl)}]*$",
        Note = $"At most {Validation.MaxPasswordBytes} bytes of UTF-8: fewer characters when they are not ASCII.",
    };

    private static readonly Limit PasswordToCheck = new()
    {
        Format = "password",
        MinLength = 1,
        MaxLength = Validation.MaxPasswordBytes,
        Note = NewPassword.Note,
    };

    /// <summary>A name people read (Validation.DisplayText): no control, invisible formatting or noncharacter in the BMP.</summary>
    private static readonly Limit DisplayText = new()
    {
        MinLength = 1,
        MaxLength = Validation.MaxDisplayTextLength,
        Pattern = $"^[^{CharacterClass(c => Rune.IsControl(c) || Validation.IsInvisibleFormatting(c) || c.Value is >= 0xFDD0 and <= 0xFDEF or >= 0xFFFE)}]+$",
    };

    private static readonly Limit RequestDisplayText = DisplayText with
    {
        Note = $"Trimmed and normalized to NFC before it is checked; at most {Validation.MaxDisplayTextLength} characters after that, and something must show: not only combining marks, joiners or letters drawn as nothing (U+115F, U+1160, U+3164, U+FFA0, U+2800).",
    };

    /// <summary>A channel's topic as answered (Validation.DisplayText, up to ConversationRecord.MaxTopicLength), empty when none.</summary>
    private static readonly Limit Topic = DisplayText with
    {
        MinLength = 0,
        MaxLength = ConversationRecord.MaxTopicLength,
        Pattern = $"^[^{CharacterClass(c => Rune.IsControl(c) || Validation.IsInvisibleFormatting(c) || c.Value is 0x2028 or 0x2029 or >= 0xFDD0 and <= 0xFDEF or >= 0xFFFE)}]*$",
    };

    private static readonly Limit RequestTopic = Topic with
    {
        Note = $"Trimmed and normalized to NFC before it is checked; at most {ConversationRecord.MaxTopicLength} characters after that (NFC can lengthen a few "
            + "characters), on one line, with something visible. Empty (or only white space) clears it.",
    };

    private static readonly Limit ChannelName = new()
    {
        MinLength = 1,
        MaxLength = Validation.MaxChannelNameLength,
        Pattern = Validation.ChannelPatternText,
    };

    private static readonly Limit RequestChannelName = ChannelName with { Note = "Trimmed and folded to lower case before the pattern is checked." };

    // An id in its canonical form, or a username as OpenDirect looks it up (trimmed, folded to lower case).
    private static readonly Limit DirectUser = new()
    {
        MinLength = 1,
        MaxLength = Validation.MaxLoginUsernameLength,
        Pattern = $"^(?:[0-9A-Fa-f]{{8}}(?:-[0-9A-Fa-f]{{4}}){{3}}-[0-9A-Fa-f]{{12}}|\\s*{CaseInsensitive(UsernameCore)}\\s*)$",
        Note = "A user id, or a username matched case-insensitively after trimming.",
    };

    /// <summary>
    /// An APNs token (hex), an FCM registration token ([A-Za-z0-9_:.-]) or a webhook URL (printable ASCII): each is
    /// printable ASCII without spaces, as registered and as answered.
    /// </summary>
    private static readonly Limit PushToken = new()
    {
        MinLength = 1,
        MaxLength = Math.Max(PushEndpoints.MaxFcmTokenLength, Math.Max(PushEndpoints.MaxApnsTokenLength, WebhookAddressPolicy.MaxUrlLength)),
        Pattern = "^[!-~]+$",
    };

    // DateTimeOffset.TryParse reads any ISO 8601 form, with any number of fraction digits and spaces around it.
    private static readonly Limit DoNotDisturbUntil = new()
    {
        Format = "date-time",
        MinLength = 1,
        MaxLength = (int)RequestLimits.MaxBodyBytes,
        Note = "Any ISO 8601 time (read as UTC without an offset); the server sets no length of its own.",
    };

    /// <summary>ApiTimeConverter's fixed width: every time the server writes is this long.</summary>
    private static readonly Limit ApiTime = new()
    {
        Format = "date-time",
        MinLength = DateTime.MaxValue.ToString(ApiTimeConverter.Format, CultureInfo.InvariantCulture).Length,
        MaxLength = DateTime.MaxValue.ToString(ApiTimeConverter.Format, CultureInfo.InvariantCulture).Length,
        Pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
    };

    /// <summary>
    /// A problem's detail, or a message in its errors: one of the server's fixed sentences (each well within the
    /// protocol's ERROR message budget), which may quote one value of the request body (a channel name, a webhook
    /// URL's host, an entry of OpenDirect's users), so a body's limit bounds it.
    /// </summary>
    private static readonly Limit ProblemText = new()
    {
        MinLength = 1,
        MaxLength = (int)RequestLimits.MaxBodyBytes + ProtocolLimits.Default.MaxErrorMessageLength,
        Pattern = "^[A-Za-z]",
    };

    private static readonly Limit ServerVersion = new()
    {
        MinLength = 5,
        MaxLength = (3 * int.MaxValue.ToString(CultureInfo.InvariantCulture).Length) + 2,
        Pattern = "^[0-9]+\\.[0-9]+\\.[0-9]+$",
    };

    private static readonly IReadOnlyList<ErrorCode> ErrorCodeList = ErrorCodes.All;

    /// <summary>Limits by JSON property name, wherever the name means one thing.</summary>
    private static readonly Dictionary<string, Limit> ByName = new(StringComparer.Ordinal)
    {
        // Ids sent as strings (Ids.Parse); those answered are Guids, which get the same by type.
        ["user_id"] = Uuid,
        ["conversation_id"] = Uuid,
        ["device_id"] = Uuid,
        ["chain_id"] = Uuid,

        ["username"] = Username,
        ["display_name"] = DisplayText,
        ["device_name"] = DisplayText,
        ["role"] = Tokens(Enum.GetValues<TeamRole>().Select(Validation.RoleName)),
        ["status"] = Tokens(Enum.GetValues<Protocol.Frames.PresenceStatus>().Select(Validation.StatusName)),
        ["type"] = Tokens(Enum.GetValues<ConversationKind>().Select(Validation.TypeName)),
        ["level"] = Tokens(Enum.GetValues<PushLevel>().Select(PushEndpoints.LevelName)),
        ["provider"] = Tokens(Enum.GetValues<PushProvider>().Select(PushMetrics.Name)),
        ["mode"] = Tokens(Enum.GetValues<E2eMode>().Select(ConversationKeyEndpoints.ModeName)),
        ["state"] = Tokens([AttachmentEndpoints.ReadyState]),

        // The embedded store's upload is a PUT, S3's a presigned POST.
        ["method"] = Tokens([HttpMethods.Put, HttpMethods.Post]),
        ["token"] = PushToken,
        ["webhook_secret"] = Base64Exact(HMACSHA256.HashSizeInBytes),
        ["session_token"] = UrlToken(SessionTokens.TokenBytes),
        ["invite_code"] = UrlToken(SessionTokens.InviteCodeBytes),
        ["next_cursor"] = UrlToken(Paging.CursorBytes),

        // LinkCode: base32 (RFC 4648 alphabet) without the dash it is shown with.
        ["link_code"] = new() { MinLength = LinkCode.Length, MaxLength = LinkCode.Length, Pattern = $"^[A-Z2-7]{{{LinkCode.Length}}}$" },
        ["noise_static_public_key"] = new() { MinLength = 2 * NoiseKeyPair.KeySize, MaxLength = 2 * NoiseKeyPair.KeySize, Pattern = $"^[0-9a-f]{{{2 * NoiseKeyPair.KeySize}}}$" },
        ["server"] = Tokens([ServerInfoEndpoints.ServerName]),
        ["sha256"] = Base64Exact(SHA256.HashSizeInBytes),
        ["signing_key"] = Base64Exact(KeyValidation.KeyLength),
        ["dh_key"] = Base64Exact(KeyValidation.KeyLength),
        ["public_key"] = Base64Exact(KeyValidation.KeyLength),
        ["signature"] = Base64Exact(KeyValidation.SignatureLength),
        ["self_signature"] = Base64Exact(KeyValidation.SignatureLength),
        ["account_signature"] = Base64Exact(KeyValidation.SignatureLength),
        ["certificate_hash"] = Base64Exact(KeyValidation.HashLength),
        ["sealed"] = Base64Bounded(KeyValidation.MaxSealedSeedLength),
        ["payload"] = Base64Bounded(KeyValidation.MaxLinkPayloadLength),
        ["backup"] = Base64Bounded(KeyValidation.MaxRecoveryBackupLength),

        // KeyValidation.Positive, and what the stores count up from 1.
        ["generation"] = Range(1, int.MaxValue),
        ["history_key_generation"] = Range(1, int.MaxValue),
        ["highest_history_key_generation"] = Range(0, int.MaxValue),
        ["prekey_id"] = Range(1, int.MaxValue),
        ["signed_prekey_id"] = Range(1, int.MaxValue),
        ["certificate_version"] = Range(1, int.MaxValue),
        ["created_at_ms"] = Range(1, long.MaxValue),
        ["epoch"] = Range(1, long.MaxValue),
        ["roster_version"] = Range(1, long.MaxValue),
        ["position"] = Range(1, long.MaxValue),
        ["next_after"] = Range(1, long.MaxValue),
        ["remaining"] = Range(0, KeyEndpoints.MaxPrekeysHeld),
        ["one_time_prekeys_remaining"] = Range(0, KeyEndpoints.MaxPrekeysHeld),
        ["max_sender_chain_members"] = Range(1, int.MaxValue),
        ["slow_mode_seconds"] = Range(0, ConversationRecord.MaxSlowModeSeconds),

        // Every message store keeps a seq as a signed 64-bit integer.
        ["last_seq"] = Range(0, long.MaxValue),
        ["seq"] = Range(1, long.MaxValue),

        // A listener's port once bound.
        ["port"] = Range(1, IPEndPoint.MaxPort),
    };

    /// <summary>Limits of one schema's property, where the name means something else there or nowhere else.</summary>
    private static readonly Dictionary<string, Limit> BySchema = new(StringComparer.Ordinal)
    {
        ["SignupRequest.username"] = SignupUsername,
        ["LoginRequest.username"] = LoginUsername,
        ["SignupRequest.display_name"] = RequestDisplayText,
        ["SignupRequest.device_name"] = RequestDisplayText,
        ["LoginRequest.device_name"] = RequestDisplayText,
        ["SignupRequest.password"] = NewPassword,
        ["ChangePasswordRequest.new_password"] = NewPassword,
        ["LoginRequest.password"] = PasswordToCheck,
        ["ChangePasswordRequest.current_password"] = PasswordToCheck,

        ["CreateTeamRequest.name"] = RequestDisplayText,
        ["UpdateTeamRequest.name"] = RequestDisplayText,
        ["TeamInfo.name"] = DisplayText,
        ["TeamCreatedResponse.name"] = DisplayText,
        ["CreateChannelRequest.name"] = RequestChannelName,
        ["UpdateChannelRequest.name"] = RequestChannelName,
        ["UpdateChannelRequest.topic"] = RequestTopic,
        ["ChannelInfo.topic"] = Topic,
        ["ChannelInfo.name"] = ChannelName,
        ["ChannelCreatedResponse.name"] = ChannelName,
        ["ConversationInfo.name"] = ChannelName,
        ["ChannelInfo.type"] = Tokens(new[] { ConversationKind.PublicChannel, ConversationKind.PrivateChannel }.Select(Validation.TypeName)),
        ["ChannelCreatedResponse.type"] = Tokens(new[] { ConversationKind.PublicChannel, ConversationKind.PrivateChannel }.Select(Validation.TypeName)),
        ["DirectConversationResponse.type"] = Tokens(new[] { ConversationKind.DirectMessage, ConversationKind.GroupMessage }.Select(Validation.TypeName)),

        ["ServerInfoResponse.version"] = ServerVersion,
        ["ServerInfoResponse.protocol_versions"] = Items(1, 1, Range(1, uint.MaxValue)),
        ["ServerInfoResponse.push_providers"] = Items(Enum.GetValues<PushProvider>().Length, 0, Tokens(Enum.GetValues<PushProvider>().Select(PushMetrics.Name))),
        ["AccountKeyInfo.version"] = Range(1, int.MaxValue),
        ["DeviceListInfo.version"] = Range(1, long.MaxValue),
        ["SetDeviceListRequest.version"] = Range(1, long.MaxValue),
        ["PushPreferencesRequest.do_not_disturb_until"] = DoNotDisturbUntil,

        // GatewayOptionsValidation's bounds; positive intervals; the history page is the protocol's, not configurable.
        ["ServerLimits.max_frame_length"] = Range(GatewayOptionsValidation.MinMaxFrameLength, GatewayOptionsValidation.MaxMaxFrameLength),
        ["ServerLimits.max_content_length"] = Range(1, GatewayOptionsValidation.MaxMaxFrameLength - GatewayOptionsValidation.FrameHeadroom),
        ["ServerLimits.max_history_limit"] = Range(1, ProtocolLimits.Default.MaxHistoryLimit),
        ["ServerLimits.heartbeat_interval_ms"] = Range(1, int.MaxValue),
        ["ServerLimits.auth_deadline_ms"] = Range(1, int.MaxValue),

        // Pages (Paging), searches and request lists: what the endpoint takes or answers at most.
        ["SessionListResponse.sessions"] = Items(Paging.MaxLimit),
        ["TeamListResponse.teams"] = Items(Paging.MaxLimit),
        ["InviteListResponse.invites"] = Items(Paging.MaxLimit),
        ["TeamPresenceResponse.members"] = Items(Paging.MaxLimit),
        ["ChannelListResponse.channels"] = Items(Paging.MaxLimit),
        ["ChannelMemberListResponse.members"] = Items(Paging.MaxLimit),
        ["ConversationListResponse.conversations"] = Items(Paging.MaxLimit),
        ["KeyBundleListResponse.entries"] = Items(Paging.MaxLimit),
        ["MemberListResponse.members"] = Items(TeamEndpoints.MaxMentionCandidates),
        ["UserListResponse.users"] = Items(AccountEndpoints.MaxUserIds),
        ["MessageLocationResponse.locations"] = Items(IMessageStore.MaxLocatedPlaces, 1),
        ["OpenDirectRequest.users"] = Items(ConversationService.MaxGroupSize - 1, 1, DirectUser),
        ["DirectConversationResponse.members"] = Items(ConversationService.MaxGroupSize, 2),
        ["ConversationInfo.members"] = Items(ConversationService.MaxGroupSize),
        ["OneTimePrekeysRequest.prekeys"] = Items(KeyEndpoints.MaxPrekeysPerUpload, 1),
        ["SetDeviceListRequest.devices"] = Items(KeyEndpoints.MaxListedDevices),
        ["DeviceListInfo.devices"] = Items(KeyEndpoints.MaxListedDevices),
        ["E2eMemberInfo.devices"] = Items(KeyEndpoints.MaxListedDevices),
        ["UserKeysResponse.former_devices"] = Items(KeyEndpoints.MaxFormerDevices),
        ["UploadKeyBundleRequest.entries"] = Items(ConversationKeyEndpoints.MaxEntriesPerUpload),

        // Lists as long as what they list: a user's devices (sessions are not capped), a conversation's members,
        // the conversations a user set a level in.
        ["UserKeysResponse.devices"] = Unbounded(),
        ["ConversationE2eResponse.members"] = Unbounded(),
        ["PushPreferencesResponse.conversations"] = Unbounded(),

        // ProblemDetailsMiddleware: every code of the shared table, and the statuses it maps them to.
        ["ApiProblem.type"] = Tokens(ErrorCodeList.Select(c => ProblemDetailsMiddleware.TypePrefix + ErrorCodes.Name(c))),
        ["ApiProblem.title"] = Tokens(ErrorCodeList.Select(c => ProblemDetailsMiddleware.Title(ErrorCodes.Name(c)))),
        ["ApiProblem.name"] = Tokens(ErrorCodeList.Select(ErrorCodes.Name)),
        ["ApiProblem.code"] = Range(ErrorCodeList.Min(c => (long)c), ErrorCodeList.Max(c => (long)c)),

        // 413 is answered for VALIDATION_FAILED when a body is over its limit.
        ["ApiProblem.status"] = Range(
            ErrorCodeList.Select(ProblemDetailsMiddleware.StatusFor).Append(StatusCodes.Status413PayloadTooLarge).Min(),
            ErrorCodeList.Select(ProblemDetailsMiddleware.StatusFor).Append(StatusCodes.Status413PayloadTooLarge).Max()),
        ["ApiProblem.detail"] = ProblemText with { Note = "It may quote a value the request sent, so only the request body's limit bounds its length." },

        // RequestRefusedException.Validation and a body's unreadable value name one field, with one message.
        ["ApiProblem.errors"] = new() { MinProperties = 1, MaxProperties = 1, Items = Items(1, 1, ProblemText) },

        // Recipients named in an upload (at most its entries), or all those a distribution still lacks.
        ["ApiProblem.extra"] = Items(ConversationKeyEndpoints.MaxEntriesPerUpload),
        ["ApiProblem.stale"] = Items(ConversationKeyEndpoints.MaxEntriesPerUpload),
        ["ApiProblem.missing"] = Unbounded(),

        // The embedded store's one header (LocalBlobStore); S3's presigned POST has none, only form fields.
        ["UploadInstructions.headers"] = new() { MaxProperties = 1, Items = Tokens([MediaTypeNames.Application.Octet]) },
        ["UploadInstructions.fields"] = new()
        {
            Items = new() { MaxLength = MaxS3FormFieldBytes, Pattern = "^[ -~]*$" },
            Note = "The presigned POST's fields (S3; the embedded store sends none): S3 takes at most 20 KB of them in all.",
        },
    };

    private static string UsernameCore => Validation.UsernamePatternText[1..^1];

    private static string TombstonePrefix => IAccountAdminStore.TombstoneName(Guid.Empty)[..^32];

    /// <summary>Applies the limits of <paramref name="schema"/>'s properties, or of the type it is.</summary>
    public static void Apply(OpenApiSchema schema, OpenApiSchemaTransformerContext context)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(context);
        var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
        if (type == typeof(Stream))
        {
            // The embedded store's download: the attachment's bytes, as many as its declared size, which an earlier
            // setting may have allowed to be larger than today's.
            schema.MaxLength = int.MaxValue;
            return;
        }

        if (context.JsonTypeInfo.Kind == JsonTypeInfoKind.Object && schema.Properties is { Count: > 0 } properties)
        {
            foreach (var property in context.JsonTypeInfo.Properties)
            {
                // Only the property's own schema: a nested object's or a reference's belongs to its component.
                if (properties.TryGetValue(property.Name, out var found) && found is OpenApiSchema concrete
                    && Find(type.Name, property.Name, context.ApplicationServices) is { } limit)
                {
                    limit.Apply(concrete);
                }
            }
        }

        ByType(schema, type, context.JsonPropertyInfo?.DeclaringType);
    }

    /// <summary>
    /// The limits of a path or query parameter (the operation transformer calls this): ids, page sizes and cursors,
    /// the mention prefix, the id list of <c>/v1/users</c>, a key-bundle position, invite and link codes, blob tokens.
    /// </summary>
    public static void ApplyToParameter(OpenApiParameter parameter, string path)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        if (parameter.Schema is not OpenApiSchema schema || parameter.Name is not { } name)
        {
            return;
        }

        var limit = name switch
        {
            _ when parameter.In == ParameterLocation.Path && name.EndsWith("Id", StringComparison.Ordinal) => Uuid with { Pattern = UuidPattern },
            "limit" when path.EndsWith("/members", StringComparison.Ordinal) && path.StartsWith("/v1/teams/", StringComparison.Ordinal) => Decimal(TeamEndpoints.MaxMentionCandidates),
            "limit" => Decimal(Paging.MaxLimit),
            "cursor" => UrlToken(Paging.CursorBytes),
            "prefix" => new()
            {
                MinLength = 0,
                MaxLength = TeamEndpoints.MaxMentionPrefixLength,
                Pattern = $"^[^{CharacterClass(Rune.IsControl)}]*$",
                Note = "A name prefix without control characters (no name holds one); empty or absent lists everyone.",
            },
            "ids" => new()
            {
                MinLength = Ids.TextLength,
                MaxLength = (AccountEndpoints.MaxUserIds * (Ids.TextLength + 1)) - 1,
                Pattern = $"^{UuidCore}(?:,{UuidCore}){{0,{AccountEndpoints.MaxUserIds - 1}}}$",
            },
            "after" => new() { MinLength = 1, MaxLength = long.MaxValue.ToString(CultureInfo.InvariantCulture).Length, Pattern = "^[0-9]+$" },
            "code" when path.StartsWith("/v1/invites/", StringComparison.Ordinal) => ByName["invite_code"],
            "code" => ByName["link_code"],
            "token" => new() { MinLength = LocalBlobStore.TokenTextLength, MaxLength = LocalBlobStore.TokenTextLength, Pattern = $"^[A-Za-z0-9_-]{{{LocalBlobStore.TokenTextLength}}}$" },
            _ => null,
        };
        limit?.Apply(schema);
    }

    private const string UuidCore = "[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}";

    private const string UuidPattern = "^" + UuidCore + "$";


    /// <summary>A positive decimal integer of at most <paramref name="maximum"/>, as a query parameter's text.</summary>
    private static Limit Decimal(int maximum) => new()
    {
        MinLength = 1,
        MaxLength = maximum.ToString(CultureInfo.InvariantCulture).Length,
        Pattern = "^[0-9]+$",
        Note = string.Create(CultureInfo.InvariantCulture, $"An integer from 1 to {maximum}."),
    };

    /// <summary>What the CLR type says, wherever it appears: only what no table entry said already.</summary>
    private static void ByType(OpenApiSchema schema, Type type, Type? declaringType)
    {
        if (type == typeof(Guid))
        {
            Uuid.Apply(schema, overwrite: false);
        }
        else if (type == typeof(DateTime) && !IsRequest(declaringType))
        {
            ApiTime.Apply(schema, overwrite: false);
        }
        else if (type == typeof(int))
        {
            Range(int.MinValue, int.MaxValue).Apply(schema, overwrite: false);
            schema.Format ??= "int32";
        }
        else if (type == typeof(long))
        {
            Range(long.MinValue, long.MaxValue).Apply(schema, overwrite: false);
            schema.Format ??= "int64";
        }
        else if (type == typeof(uint))
        {
            Range(uint.MinValue, uint.MaxValue).Apply(schema, overwrite: false);
        }
        else if (type == typeof(ulong))
        {
            Range(ulong.MinValue, ulong.MaxValue).Apply(schema, overwrite: false);
        }
    }

    /// <summary>A request body's type, or an item of a request's list.</summary>
    private static bool IsRequest(Type? type) =>
        type is not null && (type.Name.EndsWith("Request", StringComparison.Ordinal) || type.Name.EndsWith("Item", StringComparison.Ordinal));

    private static Limit? Find(string schemaName, string property, IServiceProvider services) =>
        Configured($"{schemaName}.{property}", services)
        ?? BySchema.GetValueOrDefault($"{schemaName}.{property}")
        ?? ByName.GetValueOrDefault(property);

    /// <summary>
    /// Limits that are this server's configuration: attachment sizes and invite lifetimes, and what its URLs
    /// are built from (Gateway:PublicHost when set, else the request's Host header, which the HTTP server bounds).
    /// </summary>
    private static Limit? Configured(string key, IServiceProvider services)
    {
        switch (key)
        {
            // What an upload may declare is this server's setting today; an attachment stored under a larger setting
            // (before an operator lowered it, or by another node mid-rollout) is answered with its own size.
            case "CreateAttachmentRequest.size":
                return Range(1, Attachments(services).MaxBytes);
            case "AttachmentCompletedResponse.size" or "AttachmentResponse.size":
                return Range(1, long.MaxValue);
            case "CreateInviteRequest.expires_in_seconds":
                return Range(1, (long)(services.GetService<IOptions<AuthOptions>>()?.Value ?? new AuthOptions()).InviteMaxLifetime.TotalSeconds);
            case "EndpointInfo.host":
                var publicHost = PublicHost(services);
                return publicHost.Length > 0
                    ? Tokens([publicHost])
                    : new() { MinLength = 1, MaxLength = MaxHostHeader(services), Pattern = "^[!-~]+$" };
            case "UploadInstructions.url" or "AttachmentResponse.download_url":
                // The embedded store's URLs are scheme://host/v1/blobs/{id}?token=…; S3's are presigned by the SDK
                // with the credentials' session token, which has no fixed size.
                if (services.GetService<LocalBlobStore>() is null)
                {
                    return new() { Format = "uri" };
                }

                var host = PublicHost(services) is { Length: > 0 } configured ? configured.Length + "[]:65535".Length : MaxHostHeader(services);
                return new()
                {
                    Format = "uri",
                    MinLength = 1,
                    MaxLength = "https://".Length + host + "/".Length + LocalBlobStore.RoutePrefix.Length + Ids.TextLength + "?token=".Length + LocalBlobStore.TokenTextLength,
                };
            default:
                return null;
        }
    }

    /// <summary>The largest attachment this server takes (Attachments:MaxBytes): what an upload's body may be.</summary>
    public static long MaxAttachmentBytes(IServiceProvider services) => Attachments(services).MaxBytes;

    private static AttachmentsOptions Attachments(IServiceProvider services) =>
        services.GetService<IOptions<AttachmentsOptions>>()?.Value ?? new AttachmentsOptions();

    private static string PublicHost(IServiceProvider services) =>
        services.GetService<IOptions<GatewayOptions>>()?.Value.PublicHost ?? string.Empty;

    private static int MaxHostHeader(IServiceProvider services) =>
        (services.GetService<IOptions<KestrelServerOptions>>()?.Value ?? new KestrelServerOptions()).Limits.MaxRequestHeadersTotalSize;

    private static Limit Tokens(IEnumerable<string> values) => new() { Tokens = values.Distinct().ToList() };

    private static Limit Range(long minimum, long maximum) =>
        new() { Minimum = minimum.ToString(CultureInfo.InvariantCulture), Maximum = maximum.ToString(CultureInfo.InvariantCulture) };

    private static Limit Range(ulong minimum, ulong maximum) =>
        new() { Minimum = minimum.ToString(CultureInfo.InvariantCulture), Maximum = maximum.ToString(CultureInfo.InvariantCulture) };

    private static Limit Items(int maxItems, int? minItems = null, Limit? items = null) => new() { MaxItems = maxItems, MinItems = minItems, Items = items };

    private static Limit Unbounded() => new() { MaxItems = Array.MaxLength, Note = UnboundedNote };

    /// <summary>Standard base64 with padding of exactly <paramref name="bytes"/> bytes (KeyValidation.Exact).</summary>
    private static Limit Base64Exact(int bytes)
    {
        var padding = (3 - (bytes % 3)) % 3;
        return new()
        {
            Format = "byte",
            MinLength = Base64Length(bytes),
            MaxLength = Base64Length(bytes),
            Pattern = $"^{Base64Char}{{{Base64Length(bytes) - padding}}}{new string('=', padding)}$",
        };
    }

    /// <summary>Standard base64 with padding of 1 to <paramref name="maxBytes"/> bytes, no white space (KeyValidation.Bounded).</summary>
    private static Limit Base64Bounded(int maxBytes) => new()
    {
        Format = "byte",
        MinLength = 4,
        MaxLength = Base64Length(maxBytes),
        Pattern = $"^(?:{Base64Char}{{4}})*(?:{Base64Char}{{2}}==|{Base64Char}{{3}}=)?$",
    };

    /// <summary>A random secret of <paramref name="bytes"/> bytes in base64url without padding (SessionTokens).</summary>
    private static Limit UrlToken(int bytes)
    {
        var length = System.Buffers.Text.Base64Url.GetEncodedLength(bytes);
        return new() { MinLength = length, MaxLength = length, Pattern = $"^[A-Za-z0-9_-]{{{length}}}$" };
    }

    private static int Base64Length(int bytes) => (bytes + 2) / 3 * 4;

    /// <summary>A username pattern's character class with upper case letters too.</summary>
    private static string CaseInsensitive(string pattern) => pattern.Replace("a-z", "A-Za-z", StringComparison.Ordinal);

    /// <summary>
    /// The BMP characters <paramref name="refused"/> holds for, as the ranges of a regular expression's character
    /// class (\uXXXX escapes, as ECMA-262 reads them without the u flag).
    /// </summary>
    private static string CharacterClass(Func<Rune, bool> refused)
    {
        var ranges = new StringBuilder();
        int? start = null;
        for (var value = 0; value <= 0x10000; value++)
        {
            var inClass = value < 0x10000 && Rune.IsValid(value) && refused(new Rune(value));
            if (inClass && start is null)
            {
                start = value;
            }
            else if (!inClass && start is { } first)
            {
                ranges.Append(CultureInfo.InvariantCulture, $"\\u{first:X4}");
                if (value - 1 > first)
                {
                    ranges.Append(CultureInfo.InvariantCulture, $"-\\u{value - 1:X4}");
                }

                start = null;
            }
        }

        return ranges.ToString();
    }

    /// <summary>The limits of one field; what is null is left as the schema had it.</summary>
    private sealed record Limit
    {
        public int? MinLength { get; init; }

        public int? MaxLength { get; init; }

        public string? Pattern { get; init; }

        public string? Format { get; init; }

        public IReadOnlyList<string>? Tokens { get; init; }

        public string? Minimum { get; init; }

        public string? Maximum { get; init; }

        public int? MinItems { get; init; }

        public int? MaxItems { get; init; }

        public int? MinProperties { get; init; }

        public int? MaxProperties { get; init; }

        /// <summary>The limits of a list's items, or of a map's values.</summary>
        public Limit? Items { get; init; }

        /// <summary>A clause appended to the field's description, where the limit needs explaining.</summary>
        public string? Note { get; init; }

        public void Apply(OpenApiSchema schema, bool overwrite = true)
        {
            schema.MinLength = Pick(schema.MinLength, MinLength, overwrite);
            schema.MaxLength = Pick(schema.MaxLength, MaxLength, overwrite);
            schema.Pattern = Pick(schema.Pattern, Pattern, overwrite);
            schema.Format = Pick(schema.Format, Format, overwrite);
            schema.Minimum = Pick(schema.Minimum, Minimum, overwrite);
            schema.Maximum = Pick(schema.Maximum, Maximum, overwrite);
            schema.MinItems = Pick(schema.MinItems, MinItems, overwrite);
            schema.MaxItems = Pick(schema.MaxItems, MaxItems, overwrite);
            schema.MinProperties = Pick(schema.MinProperties, MinProperties, overwrite);
            schema.MaxProperties = Pick(schema.MaxProperties, MaxProperties, overwrite);
            if (Tokens is not null && (overwrite || schema.Enum is not { Count: > 0 }))
            {
                // A field that may be null lists null among its values, or a validator would refuse it.
                var values = Tokens.Select(t => (JsonNode?)JsonValue.Create(t));
                schema.Enum = (schema.Type is { } type && type.HasFlag(JsonSchemaType.Null) ? values.Append(null) : values).ToList()!;
            }

            if (Items is not null && (schema.Items ?? schema.AdditionalProperties) is OpenApiSchema inner)
            {
                Items.Apply(inner, overwrite);
            }

            if (Note is not null && schema.Description?.Contains(Note, StringComparison.Ordinal) != true)
            {
                schema.Description = string.IsNullOrEmpty(schema.Description) ? Note : $"{schema.Description} {Note}";
            }
        }

        private static T? Pick<T>(T? current, T? value, bool overwrite)
            where T : struct => value is not null && (overwrite || current is null) ? value : current;

        private static string? Pick(string? current, string? value, bool overwrite) =>
            value is not null && (overwrite || current is null) ? value : current;
    }
}
