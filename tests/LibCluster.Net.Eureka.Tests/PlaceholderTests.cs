namespace LibCluster.Eureka.Tests;

public sealed class PlaceholderTests
{
    [Fact]
    public void Package_Builds() => typeof(LibCluster.Eureka.EurekaPlaceholder).Assembly.GetName().Name.Should().Be("LibCluster.Net.Eureka");
}
