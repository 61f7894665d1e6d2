namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// How long each target runs: <see cref="Seconds"/> of wall time, or exactly <see cref="Cases"/> cases when no time is
/// given. A case still running after <see cref="HangMs"/> is a hang: its input is printed and the run stops.
/// </summary>
internal sealed record FuzzBudget(int Seconds, long Cases, int Threads, int HangMs = 5000);
