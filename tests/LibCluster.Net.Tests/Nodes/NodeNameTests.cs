using LibCluster.Nodes;

namespace LibCluster.Tests.Nodes;

public sealed class NodeNameTests
{
    [Theory]
    [InlineData("app0@10.255.7.12", "app0", "10.255.7.12")]
    [InlineData("a@b", "a", "b")]
    [InlineData("app@localhost", "app", "localhost")]
    [InlineData("app@my-host.example.com", "app", "my-host.example.com")]
    [InlineData("my_app-1.blue@host_1", "my_app-1.blue", "host_1")]
    [InlineData("app@::1", "app", "::1")]
    [InlineData("app@2001:db8::7:12", "app", "2001:db8::7:12")]
    [InlineData("app@fe80::1%eth0", "app", "fe80::1%eth0")]
    [InlineData("APP@HOST", "APP", "HOST")]
    public void Parse_ValidName_SplitsBasenameAndHost(string text, string basename, string host)
    {
        var name = NodeName.Parse(text);

        name.Value.Should().Be(text);
        name.ToString().Should().Be(text);
        name.Basename.Should().Be(basename);
        name.Host.Should().Be(host);
        name.IsEmpty.Should().BeFalse();
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("apphost", "not of the form 'basename@host'")]
    [InlineData("@host", "not of the form 'basename@host'")]
    [InlineData("app@", "not of the form 'basename@host'")]
    [InlineData("@", "not of the form 'basename@host'")]
    [InlineData("a@b@c", "not of the form 'basename@host'")]
    [InlineData("app@@host", "not of the form 'basename@host'")]
    [InlineData("my app@host", "' ' in its basename")]
    [InlineData("app!@host", "'!' in its basename")]
    [InlineData("app/1@host", "'/' in its basename")]
    [InlineData("äpp@host", "'ä' in its basename")]
    [InlineData("app@my host", "' ' in its host")]
    [InlineData("app@host/path", "'/' in its host")]
    [InlineData("app@[::1]", "'[' in its host")]
    [InlineData("app@hôst", "'ô' in its host")]
    [InlineData("app@host\n", "in its host")]
    public void TryParse_InvalidName_ReturnsFalseWithReason(string text, string reason)
    {
        var ok = NodeName.TryParse(text, out var name, out var error);

        ok.Should().BeFalse();
        name.IsEmpty.Should().BeTrue();
        error.Should().Contain(reason);
        FluentActions.Invoking(() => NodeName.Parse(text)).Should().ThrowExactly<FormatException>().WithMessage($"*{reason}*");
        NodeName.TryParse(text, out _).Should().BeFalse();
    }

    [Fact]
    public void TryParse_Null_ReturnsFalse()
    {
        NodeName.TryParse(null, out var name, out var error).Should().BeFalse();

        name.IsEmpty.Should().BeTrue();
        error.Should().Contain("must not be empty");
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNullException()
    {
        FluentActions.Invoking(() => NodeName.Parse(null!)).Should().ThrowExactly<ArgumentNullException>();
    }

    [Fact]
    public void TryParse_ExactlyMaxLength_IsAccepted()
    {
        var text = new string('a', NodeName.MaxLength - 2) + "@h";
        text.Length.Should().Be(255);

        NodeName.TryParse(text, out var name, out var error).Should().BeTrue();
        error.Should().BeNull();
        name.Value.Should().Be(text);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(1000)]
    public void TryParse_LongerThanMaxLength_ReturnsFalseWithReason(int length)
    {
        var text = new string('a', length - 2) + "@h";

        NodeName.TryParse(text, out _, out var error).Should().BeFalse();
        error.Should().Contain("longer than 255 bytes");
    }

    [Fact]
    public void TryParse_LengthCountsUtf8Bytes_NotCharacters()
    {
        // 130 characters but 258 UTF-8 bytes: refused for its size even before its characters are looked at.
        var text = new string('é', 128) + "@h";

        NodeName.TryParse(text, out _, out var error).Should().BeFalse();
        error.Should().Contain("longer than 255 bytes");
    }

    [Fact]
    public void Default_IsEmpty_AndNamesNoNode()
    {
        var name = default(NodeName);

        name.IsEmpty.Should().BeTrue();
        name.Value.Should().BeEmpty();
        name.Basename.Should().BeEmpty();
        name.Host.Should().BeEmpty();
        name.ToString().Should().BeEmpty();
        (name == default).Should().BeTrue();
        (name == NodeName.Parse("a@b")).Should().BeFalse();
        name.Equals(default(NodeName)).Should().BeTrue();
        name.GetHashCode().Should().Be(default(NodeName).GetHashCode());
    }

    [Fact]
    public void Equals_SameText_AreEqualWithSameHashCode()
    {
        var a = NodeName.Parse("app1@10.0.0.1");
        var b = NodeName.Parse(string.Concat("app1@", "10.0.0.1"));

        (a == b).Should().BeTrue();
        (a != b).Should().BeFalse();
        a.Equals(b).Should().BeTrue();
        a.Equals((object)b).Should().BeTrue();
        a.GetHashCode().Should().Be(b.GetHashCode());
        a.CompareTo(b).Should().Be(0);
        new HashSet<NodeName> { a, b }.Should().HaveCount(1);
    }

    [Theory]
    [InlineData("App@h", "app@h")]
    [InlineData("app@H", "app@h")]
    [InlineData("app1@h", "app2@h")]
    [InlineData("app@h", "app@h.")]
    public void Equals_DifferentText_AreNotEqual(string left, string right)
    {
        var a = NodeName.Parse(left);
        var b = NodeName.Parse(right);

        (a == b).Should().BeFalse();
        (a != b).Should().BeTrue();
        a.Equals((object)b).Should().BeFalse();
        a.CompareTo(b).Should().NotBe(0);
    }

    [Fact]
    public void Equals_OtherType_IsFalse()
    {
        NodeName.Parse("a@b").Equals("a@b").Should().BeFalse();
        NodeName.Parse("a@b").Equals(null).Should().BeFalse();
    }

    [Theory]
    [InlineData("B@h", "a@h")] // ordinal: upper case before lower case, unlike culture-aware comparison
    [InlineData("app10@h", "app9@h")] // ordinal, not "natural" number ordering
    [InlineData("app@h", "app_x@h")] // '@' (0x40) < '_' (0x5F)
    [InlineData("a@10.0.0.10", "a@10.0.0.2")] // character by character: '1' < '2'
    public void CompareTo_IsOrdinal(string smaller, string larger)
    {
        var a = NodeName.Parse(smaller);
        var b = NodeName.Parse(larger);

        a.CompareTo(b).Should().BeNegative();
        b.CompareTo(a).Should().BePositive();
        (a < b).Should().BeTrue();
        (a <= b).Should().BeTrue();
        (b > a).Should().BeTrue();
        (b >= a).Should().BeTrue();
        (a > b).Should().BeFalse();
        (a >= b).Should().BeFalse();
        (b < a).Should().BeFalse();
        (b <= a).Should().BeFalse();
    }

    [Fact]
    public void CompareTo_SortsLikeOrdinalStrings()
    {
        string[] texts = ["b@h", "B@h", "app9@h", "app10@h", "a@h", "Z@h", "a_b@h", "a-b@h", "a.b@h", "a@h2"];

        var sorted = texts.Select(NodeName.Parse).Order().Select(n => n.Value);

        sorted.Should().Equal(texts.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void CompareTo_Default_SortsFirst()
    {
        var name = NodeName.Parse("a@b");

        default(NodeName).CompareTo(name).Should().BeNegative();
        name.CompareTo(default).Should().BePositive();
        default(NodeName).CompareTo(default).Should().Be(0);
        (default(NodeName) <= default(NodeName)).Should().BeTrue();
    }

    [Fact]
    public void From_Parts_EqualsParsedName()
    {
        NodeName.From("app", "10.0.0.1").Should().Be(NodeName.Parse("app@10.0.0.1"));
    }

    [Theory]
    [InlineData("", "host")]
    [InlineData("app", "")]
    [InlineData("my app", "host")]
    [InlineData("app", "a@b")]
    public void From_BadParts_ThrowsFormatException(string basename, string host)
    {
        FluentActions.Invoking(() => NodeName.From(basename, host)).Should().ThrowExactly<FormatException>();
    }
}
