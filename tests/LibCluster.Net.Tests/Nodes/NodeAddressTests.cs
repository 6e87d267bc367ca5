using LibCluster.Nodes;

namespace LibCluster.Tests.Nodes;

public sealed class NodeAddressTests
{
    private const int DefaultPort = 9001;

    [Theory]
    [InlineData("app1@10.0.0.2", "app1@10.0.0.2", "10.0.0.2", DefaultPort)]
    [InlineData("app2@10.0.0.3:9002", "app2@10.0.0.3", "10.0.0.3", 9002)]
    [InlineData("app@my-host.example.com", "app@my-host.example.com", "my-host.example.com", DefaultPort)]
    [InlineData("app@my-host.example.com:1", "app@my-host.example.com", "my-host.example.com", 1)]
    [InlineData("app@localhost:65535", "app@localhost", "localhost", 65535)]
    [InlineData("app@[::1]:9002", "app@::1", "::1", 9002)]
    [InlineData("app@[::1]", "app@::1", "::1", DefaultPort)]
    [InlineData("app@::1", "app@::1", "::1", DefaultPort)]
    [InlineData("app@2001:db8::1", "app@2001:db8::1", "2001:db8::1", DefaultPort)]
    [InlineData("app@[2001:db8::1]:9003", "app@2001:db8::1", "2001:db8::1", 9003)]
    [InlineData("app@fe80::1%eth0", "app@fe80::1%eth0", "fe80::1%eth0", DefaultPort)]
    [InlineData("app@[fe80::1%eth0]:9004", "app@fe80::1%eth0", "fe80::1%eth0", 9004)]
    [InlineData("app@10.0.0.2:09002", "app@10.0.0.2", "10.0.0.2", 9002)]
    [InlineData("  app@10.0.0.2:9002  ", "app@10.0.0.2", "10.0.0.2", 9002)]
    public void TryParse_ValidAddress_GivesNameHostAndPort(string text, string name, string host, int port)
    {
        var ok = NodeAddress.TryParse(text, DefaultPort, out var address, out var error);

        error.Should().BeNull();
        ok.Should().BeTrue();
        address!.Name.Should().Be(NodeName.Parse(name));
        address.Host.Should().Be(host);
        address.Port.Should().Be(port);
        NodeAddress.Parse(text, DefaultPort).Should().Be(address);
    }

    [Theory]
    [InlineData("app@h:0")]
    [InlineData("app@h:70000")]
    [InlineData("app@h:65536")]
    [InlineData("app@h:abc")]
    [InlineData("app@h:")]
    [InlineData("app@h:-1")]
    [InlineData("app@h:+80")]
    [InlineData("app@h: 80")]
    [InlineData("app@h:80x")]
    [InlineData("app@h:99999999999999999999")]
    public void TryParse_BadPort_ReturnsFalseWithReason(string text)
    {
        var ok = NodeAddress.TryParse(text, DefaultPort, out _, out var error);

        ok.Should().BeFalse();
        error.Should().Contain("bad port").And.Contain("1 to 65535").And.Contain(text);
        FluentActions.Invoking(() => NodeAddress.Parse(text, DefaultPort)).Should().ThrowExactly<FormatException>().WithMessage("*bad port*");
    }

    [Theory]
    [InlineData("app@[::1]:0")]
    [InlineData("app@[::1]:70000")]
    [InlineData("app@[::1]:text")]
    [InlineData("app@[::1]:")]
    [InlineData("app@[::1]9002")]
    [InlineData("app@[::1]]")]
    public void TryParse_BadPortAfterBracket_ReturnsFalseWithReason(string text)
    {
        var ok = NodeAddress.TryParse(text, DefaultPort, out _, out var error);

        ok.Should().BeFalse();
        error.Should().Contain("bad port after ']'").And.Contain("1 to 65535");
    }

    [Fact]
    public void TryParse_UnclosedBracket_ReturnsFalseWithReason()
    {
        NodeAddress.TryParse("app@[::1:9002", DefaultPort, out _, out var error).Should().BeFalse();

        error.Should().Contain("unclosed '['");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    public void TryParse_NoPortAndBadDefaultPort_ReturnsFalseWithReason(int defaultPort)
    {
        NodeAddress.TryParse("app@h", defaultPort, out _, out var error).Should().BeFalse();

        error.Should().Contain("no valid port").And.Contain(defaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void TryParse_ExplicitPortAndBadDefaultPort_UsesExplicitPort()
    {
        NodeAddress.TryParse("app@h:9002", 0, out var address, out var error).Should().BeTrue();
        error.Should().BeNull();
        address!.Port.Should().Be(9002);
    }

    [Theory]
    [InlineData(null, "must not be empty")]
    [InlineData("", "must not be empty")]
    [InlineData("   ", "must not be empty")]
    [InlineData("apphost:9002", "not of the form 'basename@host'")]
    [InlineData("@host:9002", "not of the form 'basename@host'")]
    [InlineData("app@:9002", "not of the form 'basename@host'")]
    [InlineData("app@[]:9002", "not of the form 'basename@host'")]
    [InlineData("a@b@c:9002", "not of the form 'basename@host'")]
    [InlineData("my app@h:9002", "' ' in its basename")]
    [InlineData("app@h/x:9002", "'/' in its host")]
    public void TryParse_BadName_ReturnsFalseWithReason(string? text, string reason)
    {
        NodeAddress.TryParse(text, DefaultPort, out _, out var error).Should().BeFalse();

        error.Should().Contain(reason);
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNullException()
    {
        FluentActions.Invoking(() => NodeAddress.Parse(null!, DefaultPort)).Should().ThrowExactly<ArgumentNullException>();
    }

    [Fact]
    public void Constructor_NameAndPort_DialsTheHostInTheName()
    {
        var address = new NodeAddress(NodeName.Parse("app@10.1.2.3"), 9005);

        address.Host.Should().Be("10.1.2.3");
        address.Port.Should().Be(9005);
        address.Should().Be(NodeAddress.Parse("app@10.1.2.3:9005", DefaultPort));
    }

    [Fact]
    public void Equals_SameNameDifferentPort_AreNotEqual()
    {
        NodeAddress.Parse("app@h:9001", DefaultPort).Should().NotBe(NodeAddress.Parse("app@h:9002", DefaultPort));
        NodeAddress.Parse("app@h", DefaultPort).Should().Be(NodeAddress.Parse("app@h:9001", DefaultPort));
    }

    [Theory]
    [InlineData("app@10.0.0.2:9002", "app@10.0.0.2 at 10.0.0.2:9002")]
    [InlineData("app@[::1]:9002", "app@::1 at [::1]:9002")]
    public void ToString_ShowsNameAndEndpoint(string text, string expected)
    {
        NodeAddress.Parse(text, DefaultPort).ToString().Should().Be(expected);
    }
}
