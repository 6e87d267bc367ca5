using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LibCluster.Mesh.Transport;

namespace LibCluster.Hosting;

/// <summary>Loads the certificate and CA of <c>LibCluster:Node:Tls</c>; every failure names its config key.</summary>
internal static class TlsLoader
{
    private const string Key = "LibCluster:Node:Tls";

    public static MeshTls Load(TlsOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.CertificatePath))
        {
            throw new ClusterException($"{Key}:CertificatePath is required when {Key}:Enabled is true.");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = string.IsNullOrWhiteSpace(options.KeyPath)
                ? X509CertificateLoader.LoadPkcs12FromFile(options.CertificatePath, options.CertificatePassword)
                : X509Certificate2.CreateFromPemFile(options.CertificatePath, options.KeyPath);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ClusterException($"{Key}:CertificatePath '{options.CertificatePath}' could not be loaded{(string.IsNullOrWhiteSpace(options.KeyPath) ? "" : $" with {Key}:KeyPath '{options.KeyPath}'")}: {ex.Message}", ex);
        }

        if (!certificate.HasPrivateKey)
        {
            throw new ClusterException($"{Key}:CertificatePath '{options.CertificatePath}' has no private key (give a PKCS#12 file, or a PEM certificate with {Key}:KeyPath).");
        }

        X509Certificate2Collection? roots = null;
        if (!string.IsNullOrWhiteSpace(options.TrustedCaPath))
        {
            try
            {
                roots = [];
                roots.ImportFromPemFile(options.TrustedCaPath);
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new ClusterException($"{Key}:TrustedCaPath '{options.TrustedCaPath}' could not be loaded: {ex.Message}", ex);
            }

            if (roots.Count == 0)
            {
                throw new ClusterException($"{Key}:TrustedCaPath '{options.TrustedCaPath}' holds no PEM certificate.");
            }
        }

        return new MeshTls(certificate, roots, options.CheckCertificateName);
    }
}
