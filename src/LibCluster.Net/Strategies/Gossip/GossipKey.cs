using System.Security.Cryptography;
using System.Text;

namespace LibCluster.Strategies.Gossip;

/// <summary>
/// The AES-256-GCM key that seals heartbeats, derived from the configured secret with HKDF-SHA256 (own salt and
/// info), and a short key id derived the same way, which tells heartbeats of another cluster (another secret) from
/// forged ones. Thread-safe; the secret itself is not kept.
/// </summary>
internal sealed class GossipKey : IDisposable
{
    public const int KeyIdLength = 8;
    public const int NonceLength = 12;
    public const int TagLength = 16;

    private static readonly byte[] Salt = "LibCluster.Net gossip heartbeat salt v1"u8.ToArray();
    private static readonly byte[] KeyInfo = "LibCluster.Net gossip AES-256-GCM key v1"u8.ToArray();
    private static readonly byte[] KeyIdInfo = "LibCluster.Net gossip key id v1"u8.ToArray();

    // AesGcm instances are not documented as thread-safe; sealing (send loop) and opening (receive loop) may overlap.
    private readonly Lock _gate = new();
    private readonly AesGcm _aes;
    private readonly byte[] _keyId;

    private GossipKey(AesGcm aes, byte[] keyId)
    {
        _aes = aes;
        _keyId = keyId;
    }

    /// <summary>The key id that sealed heartbeats carry in clear: not secret, it only tells clusters apart.</summary>
    public ReadOnlySpan<byte> KeyId => _keyId;

    public static GossipKey Derive(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        var ikm = Encoding.UTF8.GetBytes(secret);
        var prk = new byte[32];
        var key = new byte[32];
        try
        {
            HKDF.Extract(HashAlgorithmName.SHA256, ikm, Salt, prk);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, key, KeyInfo);
            var keyId = new byte[KeyIdLength];
            HKDF.Expand(HashAlgorithmName.SHA256, prk, keyId, KeyIdInfo);
            return new GossipKey(new AesGcm(key, TagLength), keyId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ikm);
            CryptographicOperations.ZeroMemory(prk);
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public bool HasKeyId(ReadOnlySpan<byte> keyId) => keyId.SequenceEqual(_keyId);

    public void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        lock (_gate)
        {
            _aes.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }
    }

    /// <summary>Decrypts and authenticates; false when the tag does not match (wrong key, or any byte altered).</summary>
    public bool TryOpen(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        try
        {
            lock (_gate)
            {
                _aes.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
            }

            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
    }

    public void Dispose() => _aes.Dispose();
}
