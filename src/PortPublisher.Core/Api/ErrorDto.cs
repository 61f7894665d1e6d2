namespace PortPublisher.Core.Api;

/// <summary>Every API error body, as Docker's Engine API shapes them: <c>{"message": "…"}</c>.</summary>
public sealed record ErrorDto(string Message);
