using System.Globalization;
using System.Text;
using ChatWire.Client;
using ChatWire.Client.Secure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli;

// How listen, history and thread show end-to-end encrypted events: decrypted in place (the line then reads as a
// plain text message, with "encrypted": true in JSON), or "[cannot decrypt: REASON]" when this device has no key.
internal static class E2eView
{
    public static async Task WriteEventAsync(CommandContext context, SecureClient? secure, ConversationEvent e, NameBook names, string? conversation)
    {
        var (shown, encrypted) = await RevealAsync(context, secure, e).ConfigureAwait(false);
        var json = CliOutput.EventJson(shown, names);
        if (encrypted)
        {
            json["encrypted"] = true;
        }

        await context.Output.WriteAsync(json, CliOutput.EventHuman(shown, names, conversation)).ConfigureAwait(false);
    }

    private static async Task<(ConversationEvent Shown, bool Encrypted)> RevealAsync(CommandContext context, SecureClient? secure, ConversationEvent e)
    {
        if (e.ContentType != SecureClient.ContentType)
        {
            if (secure is not null && (e.Kind == EventKind.MessageDeleted || (e.Kind == EventKind.Message && e.DeletedAtUnixMs != 0)))
            {
                // A message deleted for everyone: its kept plaintext goes too.
                await secure.DecryptAsync(e, context.Cancellation).ConfigureAwait(false);
            }

            return (e, false);
        }

        if (e.Kind == EventKind.MessageEdited && e.DeletedAtUnixMs != 0)
        {
            // An edit of a message deleted since: its content was erased with the message, there is nothing to open.
            return (e, true);
        }

        string text;
        if (secure is null)
        {
            text = "[cannot decrypt: this device has no keys]";
        }
        else
        {
            try
            {
                var content = await secure.DecryptAsync(e, context.Cancellation).ConfigureAwait(false);
                foreach (var warning in content.Warnings)
                {
                    await context.Output.Stderr.WriteLineAsync("chatwire: warning: " + warning).ConfigureAwait(false);
                }

                text = content.Plaintext is { } plaintext
                    ? AttachmentMessage.TryDecode(plaintext, out var file) ? Describe(context, e, file!) : Encoding.UTF8.GetString(plaintext)
                    : $"[cannot decrypt: {content.FailureReason}]";
            }
            catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
            {
                text = $"[cannot decrypt: {ex.Message}]";
            }
        }

        return (e with { ContentType = ContentTypes.PlainText, Content = Encoding.UTF8.GetBytes(text) }, true);
    }

    // "[image pic.jpg, 1024×768, 83 KB: chatwire download ID --out PATH]" for an image with dimensions, else
    // "[file NAME, MIME, SIZE: …]".
    private static string Describe(CommandContext context, ConversationEvent e, AttachmentMessage file)
    {
        var d = file.Descriptor;
        var size = Size(d.Keys.PlaintextSize);
        return d.MimeType.StartsWith("image/", StringComparison.Ordinal) && d.Width > 0 && d.Height > 0
            ? $"[image {file.FileName}, {d.Width.ToString(CultureInfo.InvariantCulture)}×{d.Height.ToString(CultureInfo.InvariantCulture)}, {size}: {context.Self} download {e.EventId:D} --out PATH]"
            : $"[file {file.FileName}, {d.MimeType}, {size}: {context.Self} download {e.EventId:D} --out PATH]";
    }

    // Bytes under 1 KB, then KB and MB (1000s, rounded), as a person reads a file size.
    private static string Size(long bytes) => bytes switch
    {
        < 1000 => bytes.ToString(CultureInfo.InvariantCulture) + " bytes",
        < 1_000_000 => Math.Round(bytes / 1000.0).ToString(CultureInfo.InvariantCulture) + " KB",
        _ => (bytes / 1_000_000.0).ToString("0.#", CultureInfo.InvariantCulture) + " MB",
    };

    // The key store of this profile when the device was set up (null otherwise: plaintext-only use keeps working).
    public static async Task<SecureClient?> OpenAsync(CommandContext context, ChatWireApiClient api)
    {
        var secure = context.CreateSecure(api);
        if (!secure.HasKeys)
        {
            secure.Dispose();
            return null;
        }

        try
        {
            await secure.SyncOwnKeysAsync(context.Cancellation).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
        {
            await context.Output.Stderr.WriteLineAsync($"chatwire: warning: {ex.Message}").ConfigureAwait(false);
        }

        return secure;
    }
}
