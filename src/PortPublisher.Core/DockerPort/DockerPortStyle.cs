namespace PortPublisher.Core.DockerPort;

/// <summary>Which <c>docker port</c> output to reproduce.</summary>
public enum DockerPortStyle
{
    /// <summary>Docker CLI 23.0 to 28.x: <c>[::]:49155</c>, naturally sorted, the argument echoed as typed in errors.</summary>
    Current,

    /// <summary>Docker CLI ≤ 20.10: <c>:::49155</c>, unsorted, errors name the normalised port (<c>'80/tcp'</c>).</summary>
    Legacy,
}
