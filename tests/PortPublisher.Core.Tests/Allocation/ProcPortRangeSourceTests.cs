using PortPublisher.Core.Allocation;
using PortPublisher.Core.Specs;
using Xunit;

namespace PortPublisher.Core.Tests.Allocation;

public sealed class ProcPortRangeSourceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pp-proc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadsRangeAndReservedPorts()
    {
        File.WriteAllText(Path.Combine(_dir, "ip_local_port_range"), "32768\t60999\n");
        File.WriteAllText(Path.Combine(_dir, "ip_local_reserved_ports"), "8080,9000-9002\n");
        var source = new ProcPortRangeSource(_dir);
        Assert.Equal(new PortRange(32768, 60999), source.DynamicRange);
        Assert.Null(source.Warning);
        Assert.True(source.IsReserved(9001));
        Assert.True(source.IsReserved(8080));
        Assert.False(source.IsReserved(9003));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("garbage")]
    [InlineData("60999 32768")]
    [InlineData("0 100")]
    public void FallsBackToDockersRange(string? content)
    {
        if (content is not null)
        {
            File.WriteAllText(Path.Combine(_dir, "ip_local_port_range"), content);
        }

        var source = new ProcPortRangeSource(_dir);
        Assert.Equal(new PortRange(49153, 65535), source.DynamicRange);
        Assert.Contains("falling back to default port range 49153-65535", source.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadsThisKernel()
    {
        var source = new ProcPortRangeSource();
        Assert.True(source.DynamicRange.Start > 0);
        Assert.True(source.DynamicRange.End >= source.DynamicRange.Start);
    }
}
