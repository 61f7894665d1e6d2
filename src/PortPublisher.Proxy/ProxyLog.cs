using System.Net;
using Microsoft.Extensions.Logging;

namespace PortPublisher.Proxy;

/// <summary>Proxy log events, IDs 2000–2099. Per-connection events are Debug.</summary>
internal static partial class ProxyLog
{
    // Debug: the publish line already lists each binding and its carrier; a proxied 10,000-port range would otherwise log 10,000 lines.
    [LoggerMessage(2000, LogLevel.Debug, "Proxy {Protocol} {Listen} -> {Target} started")]
    public static partial void Started(ILogger logger, string protocol, EndPoint listen, IPEndPoint target);

    [LoggerMessage(2001, LogLevel.Debug, "Proxy {Protocol} {Listen} -> {Target} stopped")]
    public static partial void Stopped(ILogger logger, string protocol, EndPoint listen, IPEndPoint target);

    [LoggerMessage(2002, LogLevel.Debug, "Dial {Target} for {Client} failed: {Error}")]
    public static partial void DialFailed(ILogger logger, IPEndPoint target, EndPoint? client, string error);

    [LoggerMessage(2003, LogLevel.Debug, "Connection {Client} -> {Target} ended: client {Up}, target {Down}")]
    public static partial void ConnectionEnded(ILogger logger, EndPoint? client, IPEndPoint target, Tcp.PumpOutcome up, Tcp.PumpOutcome down);

    [LoggerMessage(2004, LogLevel.Warning, "Accept on {Listen} failed: {Error}")]
    public static partial void AcceptFailed(ILogger logger, EndPoint listen, string error);

    [LoggerMessage(2005, LogLevel.Debug, "UDP flow {Client} -> {Target} opened")]
    public static partial void FlowOpened(ILogger logger, EndPoint client, IPEndPoint target);

    [LoggerMessage(2006, LogLevel.Debug, "UDP flow {Client} -> {Target} closed after {IdleSeconds} s idle")]
    public static partial void FlowExpired(ILogger logger, EndPoint client, IPEndPoint target, double idleSeconds);

    [LoggerMessage(2007, LogLevel.Warning, "UDP flow table of {Listen} is full ({Max} flows): datagram from {Client} dropped")]
    public static partial void FlowTableFull(ILogger logger, EndPoint listen, int max, EndPoint client);

    [LoggerMessage(2008, LogLevel.Error, "Proxy {Protocol} {Listen} -> {Target} stop: {Part} did not confirm within {TimeoutMs} ms; the listener is closed; what {Part} holds of the binding is released when it answers")]
    public static partial void StopTimedOut(ILogger logger, string protocol, EndPoint listen, IPEndPoint target, string part, double timeoutMs);

    [LoggerMessage(2009, LogLevel.Error, "Proxy {Protocol} {Listen} -> {Target} stop failed on {Part}")]
    public static partial void StopFailed(ILogger logger, string protocol, EndPoint listen, IPEndPoint target, string part, Exception exception);

    [LoggerMessage(2010, LogLevel.Warning, "Proxy {Protocol} {Listen} -> {Target} has {MaxConnections} connections open, its MaxConnections: new clients wait in the backlog until one closes (said at most once a minute)")]
    public static partial void ConnectionLimitReached(ILogger logger, string protocol, EndPoint listen, IPEndPoint target, int maxConnections);
}
