namespace ChatWire.Client.Secure;

/// <summary>Why an end-to-end operation could not be done.</summary>
public enum SecureFailure
{
    /// <summary>A user (or this device) has no keys set up.</summary>
    NoKeys = 1,

    /// <summary>This device is waiting for approval by another device of the same user.</summary>
    NotApproved,

    /// <summary>A signature did not verify, or a device list went back to an older version.</summary>
    BadSignature,

    /// <summary>A verified user's account key changed: sending is blocked until they are verified again.</summary>
    KeyChanged,

    /// <summary>A link code matched no pending device, or not the keys the server shows for it.</summary>
    LinkCodeMismatch,

    /// <summary>The server kept refusing the key distribution.</summary>
    DistributionRefused,

    /// <summary>An attachment's ciphertext did not match its hash, or did not decrypt.</summary>
    AttachmentMismatch,

    /// <summary>The recovery key is malformed, or does not open my recovery backup (or there is none).</summary>
    RecoveryKeyMismatch,

    /// <summary>The safety number given is not the one of my and the other user's current account keys: they were not marked verified.</summary>
    SafetyNumberMismatch,
}

/// <summary>An end-to-end operation failed on this side (a key that did not verify, a device not approved yet).</summary>
public sealed class SecureMessagingException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failure">What failed.</param>
    /// <param name="message">A sentence for a person.</param>
    /// <param name="innerException">The cause, if any.</param>
    public SecureMessagingException(SecureFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    /// <summary>Creates the exception with <see cref="SecureFailure.NoKeys"/>.</summary>
    public SecureMessagingException()
        : this(SecureFailure.NoKeys, "End-to-end encryption failed.")
    {
    }

    /// <summary>Creates the exception with <see cref="SecureFailure.NoKeys"/>.</summary>
    /// <param name="message">A sentence for a person.</param>
    public SecureMessagingException(string message)
        : this(SecureFailure.NoKeys, message)
    {
    }

    /// <summary>Creates the exception with <see cref="SecureFailure.NoKeys"/>.</summary>
    /// <param name="message">A sentence for a person.</param>
    /// <param name="innerException">The cause.</param>
    public SecureMessagingException(string message, Exception innerException)
        : this(SecureFailure.NoKeys, message, innerException)
    {
    }

    /// <summary>What failed.</summary>
    public SecureFailure Failure { get; }
}
