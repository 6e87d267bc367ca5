using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace LibCluster.Mesh.Transport;

/// <summary>
/// Mutual TLS 1.3 under the mesh's framing and handshake: both sides present a certificate and accept only peers
/// whose certificate chains to the cluster's own CA (or to the system's roots when no CA is given). The cookie
/// handshake still runs inside the TLS session, so TLS adds confidentiality and the CA check; the cookie still
/// decides who may join.
/// </summary>
internal sealed class MeshTls(X509Certificate2 certificate, X509Certificate2Collection? trustedRoots, bool checkCertificateName)
{
    public X509Certificate2 Certificate { get; } = certificate;

    /// <summary>Runs the TLS handshake over <paramref name="raw"/>; <paramref name="targetHost"/> is null on the accepting side.</summary>
    public async Task<SslStream> AuthenticateAsync(Stream raw, string? targetHost, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(raw, leaveInnerStreamOpen: true);
        try
        {
            if (targetHost is null)
            {
                await ssl.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificate = Certificate,
                        ClientCertificateRequired = true,
                        EnabledSslProtocols = SslProtocols.Tls13,
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                        RemoteCertificateValidationCallback = (_, certificate, _, errors) => Validate(certificate, errors, checkName: false),
                    },
                    cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = targetHost,
                        ClientCertificates = [Certificate],
                        EnabledSslProtocols = SslProtocols.Tls13,
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                        RemoteCertificateValidationCallback = (_, certificate, _, errors) => Validate(certificate, errors, checkCertificateName),
                    },
                    cancellationToken).ConfigureAwait(false);
            }

            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new MeshProtocolException("tls_failed", $"The TLS handshake failed: {ex.Message}");
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private bool Validate(X509Certificate? presented, SslPolicyErrors errors, bool checkName)
    {
        if (presented is null)
        {
            return false;
        }

        if (checkName && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        if (trustedRoots is null)
        {
            return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        }

        // Only the cluster's CA counts: a certificate from any public CA must not get a stranger in.
        using var certificate = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trustedRoots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
