using PortPublisher.Core.Publications;
using Xunit;

namespace PortPublisher.Core.Tests.Publications;

public class PublicationNameTests
{
    [Theory]
    [InlineData("web", "web")]
    [InlineData("/web", "web")]
    [InlineData("a.b_c-1", "a.b_c-1")]
    public void DockersNamesAreAccepted(string name, string normalized)
    {
        Assert.Equal(normalized, PublicationName.Normalize(name, out string? error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("web\n", "Invalid publication name (web\\n), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")] // Go's $ is the end of text
    [InlineData("w", "Invalid publication name (w), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    [InlineData("-web", "Invalid publication name (-web), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    [InlineData("", "invalid publication name: value is empty")]
    public void OthersAreRefusedWithDockersText(string name, string expected)
    {
        Assert.Null(PublicationName.Normalize(name, out string? error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void LengthStopsAtTheLimit()
    {
        Assert.NotNull(PublicationName.Normalize(new string('a', PublicationName.MaxLength), out _));
        Assert.Null(PublicationName.Normalize(new string('a', PublicationName.MaxLength + 1), out string? error));
        Assert.Equal($"invalid publication name: {PublicationName.MaxLength + 1} characters, at most {PublicationName.MaxLength} are allowed", error);
    }
}
