using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LibCluster.IntegrationTests.Tls;

/// <summary>A throwaway CA and node certificates made in the test, as a cluster operator would make them.</summary>
internal sealed class TestCertificates
{
    private static readonly DateTimeOffset NotBefore = DateTimeOffset.UtcNow.AddDays(-1);
    private static readonly DateTimeOffset NotAfter = DateTimeOffset.UtcNow.AddDays(30);
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCertificates(string name)
    {
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(NotBefore, NotAfter);
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2Collection Roots => [X509CertificateLoader.LoadCertificate(Ca.RawData)];

    /// <summary>A node certificate for 127.0.0.1 signed by this CA, with its private key, usable by TLS server and client.</summary>
    public X509Certificate2 Issue(string node)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={node}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.Create(Ca, NotBefore, NotAfter, RandomNumberGenerator.GetBytes(12));
        using var withKey = issued.CopyWithPrivateKey(key);

        // A round trip through PKCS#12 gives a key that every TLS backend accepts.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Writes the CA as PEM and a node certificate and key as PEM files into <paramref name="directory"/>.</summary>
    public (string Certificate, string Key, string Ca) WritePem(string directory, string node)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={node}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(Ca, NotBefore, NotAfter, RandomNumberGenerator.GetBytes(12));
        var certificate = Path.Combine(directory, $"{node}.crt");
        var privateKey = Path.Combine(directory, $"{node}.key");
        var ca = Path.Combine(directory, "ca.crt");
        File.WriteAllText(certificate, issued.ExportCertificatePem());
        File.WriteAllText(privateKey, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(ca, Ca.ExportCertificatePem());
        return (certificate, privateKey, ca);
    }
}
