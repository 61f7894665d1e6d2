namespace PortPublisher.Core.DockerPort;

/// <summary>What a command writes, byte for byte, and its exit code.</summary>
public readonly record struct CommandOutput(string Stdout, string Stderr, int ExitCode);
