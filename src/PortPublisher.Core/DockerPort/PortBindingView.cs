namespace PortPublisher.Core.DockerPort;

/// <summary>One element of the Engine API's <c>NetworkSettings.Ports["80/tcp"]</c> list, as strings exactly as served.</summary>
public sealed record PortBindingView(string HostIp, string HostPort);
