using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using LibCluster.Mesh.Framing;
using LibCluster.Nodes;

namespace LibCluster.Mesh.Handshake;

/// <summary>What a completed handshake established about the peer.</summary>
internal readonly record struct HandshakeOutcome(NodeName Peer, uint PeerCreation, ulong PeerFlags, HandshakeVerdict Verdict);

/// <summary>
/// The four-step mutual challenge handshake (docs/protocol.md): HELLO, STATUS + CHALLENGE, REPLY, ACK.
/// Both proofs are HMAC-SHA256 over the whole transcript under a key derived from the cookie, so names,
/// creations, flags and both fresh nonces are bound, the cookie never crosses the wire, and a recorded
/// handshake cannot be replayed (the other side's nonce differs every time).
/// </summary>
internal sealed class HandshakeProtocol
{
    private static readonly byte[] InitiatorLabel = "LibCluster.Net initiator"u8.ToArray();
    private static readonly byte[] AcceptorLabel = "LibCluster.Net acceptor"u8.ToArray();
    private static readonly byte[] KeySalt = "LibCluster.Net handshake v1"u8.ToArray();

    private readonly byte[] _key;
    private readonly byte[][] _acceptedKeys;
    private readonly NodeName _self;
    private readonly uint _creation;
    private readonly ulong _flags;

    /// <param name="cookie">The cookie this node proves when it dials, and accepts first.</param>
    /// <param name="self">This node's name.</param>
    /// <param name="creation">This node's creation.</param>
    /// <param name="flags">Capability flags.</param>
    /// <param name="acceptedCookies">
    /// Cookies also accepted from a node that dials this one (rotation): the acceptor checks the proof under each and
    /// answers under the one that matched, which is the dialler's own.
    /// </param>
    public HandshakeProtocol(string cookie, NodeName self, uint creation, ulong flags = 0, IEnumerable<string>? acceptedCookies = null)
    {
        _key = DeriveKey(cookie);
        _acceptedKeys = [_key, .. (acceptedCookies ?? []).Where(c => c != cookie).Distinct(StringComparer.Ordinal).Select(DeriveKey)];
        _self = self;
        _creation = creation;
        _flags = flags;
    }

    /// <summary>HKDF-SHA256 of the cookie: the MAC key. The cookie itself is never used on the wire.</summary>
    public static byte[] DeriveKey(string cookie) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(cookie), 32, KeySalt, "mac"u8.ToArray());

    /// <summary>Runs the dialling side. <paramref name="expectedPeer"/> must be the name that answers.</summary>
    public async Task<HandshakeOutcome> InitiateAsync(IDuplexPipe pipe, NodeName expectedPeer, CancellationToken cancellationToken)
    {
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(_self, _creation, _flags, NewNonce()));
        await PipeFrames.WriteFramesAsync(pipe.Output, cancellationToken, hello).ConfigureAwait(false);

        var status = await ReadAsync(pipe, cancellationToken).ConfigureAwait(false);
        switch (HandshakeMessages.DecodeStatus(status))
        {
            case HandshakeStatus.Ok:
                break;
            case HandshakeStatus.UnsupportedVersion:
                throw new MeshProtocolException("unsupported_version", $"The peer does not speak protocol version {HandshakeMessages.ProtocolVersion}.");
            default:
                throw new MeshProtocolException("not_allowed", "The peer refused the connection (not_allowed).");
        }

        var challenge = await ReadAsync(pipe, cancellationToken).ConfigureAwait(false);
        var peer = HandshakeMessages.DecodeChallenge(challenge);
        if (!expectedPeer.IsEmpty && peer.Name != expectedPeer)
        {
            throw new MeshProtocolException("unexpected_peer", $"Dialled {expectedPeer} but {peer.Name} answered.");
        }

        var transcript = Concat(hello, status, challenge);
        var reply = HandshakeMessages.EncodeReply(Mac(InitiatorLabel, transcript));
        await PipeFrames.WriteFramesAsync(pipe.Output, cancellationToken, reply).ConfigureAwait(false);

        byte[] ack;
        try
        {
            ack = await ReadAsync(pipe, cancellationToken).ConfigureAwait(false);
        }
        catch (MeshProtocolException ex) when (ex.Reason == "connection_closed")
        {
            // The acceptor says nothing to a peer whose proof fails; closing right after our proof means just that.
            throw new MeshProtocolException("rejected", $"{peer.Name} closed the connection after checking this node's proof: the cookies differ, or the peer gave up on the handshake.");
        }

        var verdict = HandshakeMessages.DecodeAck(ack, out var ackMac);
        var expected = Mac(AcceptorLabel, Concat(transcript, reply, [(byte)verdict]));
        if (!CryptographicOperations.FixedTimeEquals(ackMac, expected))
        {
            throw new MeshProtocolException("bad_cookie", "The peer could not prove that it knows the cookie.");
        }

        return new HandshakeOutcome(peer.Name, peer.Creation, peer.Flags, verdict);
    }

    /// <summary>
    /// Runs the accepting side. <paramref name="decide"/> is called only after the peer has proven the cookie,
    /// and its verdict travels back inside the authenticated ACK.
    /// </summary>
    public async Task<HandshakeOutcome> AcceptAsync(IDuplexPipe pipe, Func<HandshakeOutcome, HandshakeVerdict> decide, CancellationToken cancellationToken)
    {
        var hello = await ReadAsync(pipe, cancellationToken).ConfigureAwait(false);
        var peer = HandshakeMessages.DecodeHello(hello, out var version);
        if (version != HandshakeMessages.ProtocolVersion)
        {
            await PipeFrames.WriteFramesAsync(pipe.Output, cancellationToken, HandshakeMessages.EncodeStatus(HandshakeStatus.UnsupportedVersion)).ConfigureAwait(false);
            throw new MeshProtocolException("unsupported_version", $"The peer speaks protocol version {version}, not {HandshakeMessages.ProtocolVersion}.");
        }

        if (peer.Name == _self)
        {
            await PipeFrames.WriteFramesAsync(pipe.Output, cancellationToken, HandshakeMessages.EncodeStatus(HandshakeStatus.NotAllowed)).ConfigureAwait(false);
            throw new MeshProtocolException("name_in_use", $"The peer claims this node's own name {_self}.");
        }

        var status = HandshakeMessages.EncodeStatus(HandshakeStatus.Ok);
        var challenge = HandshakeMessages.EncodeChallenge(new HandshakeIdentity(_self, _creation, _flags, NewNonce()));
        await PipeFrames.WriteFramesAsync(pipe.Output, cancellationToken, status, challenge).ConfigureAwait(false);

        var transcript = Concat(hello, status, challenge);
        var reply = await ReadAsync(pipe, cancellationToken).ConfigureAwait(false);
        var replyMac = HandshakeMessages.DecodeReply(reply);

        // A wrong proof gets no answer: the connection just closes.
        var key = MatchingKey(replyMac, transcript)
            ?? throw new MeshProtocolException("bad_cookie", $"The peer calling itself {peer.Name} could not prove that it knows the cookie.");

        var outcome = new HandshakeOutcome(peer.Name, peer.Creation, peer.Flags, HandshakeVerdict.Ok);
        var verdict = decide(outcome);
        var ack = HandshakeMessages.EncodeAck(verdict, Mac(key, AcceptorLabel, Concat(transcript, reply, [(byte)verdict])));
        await PipeFrames.WriteFramesAsync(pipe.Output, cancellationToken, ack).ConfigureAwait(false);
        return outcome with { Verdict = verdict };
    }

    private static ValueTask<byte[]> ReadAsync(IDuplexPipe pipe, CancellationToken cancellationToken) =>
        PipeFrames.ReadFrameAsync(pipe.Input, HandshakeMessages.MaxHandshakeFrameBytes, cancellationToken);

    private byte[] Mac(byte[] label, byte[] transcript) => Mac(_key, label, transcript);

    private static byte[] Mac(byte[] key, byte[] label, byte[] transcript) => HMACSHA256.HashData(key, Concat(label, transcript));

    /// <summary>The accepted key under which the dialler's proof is right, or null. Every key is tried, so the time taken does not tell which matched.</summary>
    private byte[]? MatchingKey(ReadOnlySpan<byte> proof, byte[] transcript)
    {
        byte[]? match = null;
        foreach (var key in _acceptedKeys)
        {
            if (CryptographicOperations.FixedTimeEquals(proof, Mac(key, InitiatorLabel, transcript)) && match is null)
            {
                match = key;
            }
        }

        return match;
    }

    private static byte[] NewNonce() => RandomNumberGenerator.GetBytes(HandshakeMessages.NonceSize);

    private static byte[] Concat(params ReadOnlySpan<byte[]> parts)
    {
        var length = 0;
        foreach (var part in parts)
        {
            length += part.Length;
        }

        var result = new byte[length];
        var offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }

        return result;
    }
}
