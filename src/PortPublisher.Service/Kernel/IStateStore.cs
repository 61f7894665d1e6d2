using PortPublisher.Service.State;

namespace PortPublisher.Service.Kernel;

/// <summary>Where publications survive restarts.</summary>
internal interface IStateStore
{
    /// <summary>The file's path, for messages.</summary>
    string PathName { get; }

    /// <exception cref="InvalidDataException">The file exists but cannot be read or understood.</exception>
    StateFile Load();

    /// <summary>
    /// Saves one change durably before it returns, at a cost that grows with the change, not with the state: the
    /// publications in <paramref name="put"/> are written whole, those named in <paramref name="remove"/> are gone.
    /// </summary>
    /// <exception cref="IOException">The directory is full, read-only, or gone; nothing was changed.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be written; nothing was changed.</exception>
    void Commit(IReadOnlyCollection<StoredPublication> put, IReadOnlyCollection<string> remove);

    /// <summary>Replaces the saved state atomically, or leaves it as it was.</summary>
    /// <exception cref="IOException">The directory is full, read-only, or gone; nothing was changed.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be written; nothing was changed.</exception>
    void Save(StateFile state);
}
