namespace PortPublisher.Cni.Spec;

/// <summary>Who programs the tables: the plugin config's <c>mode</c>.</summary>
internal enum PluginMode
{
    /// <summary>portpublisherd when its socket answers, else the plugin itself.</summary>
    Auto,

    /// <summary>Only through portpublisherd; unreachable is an error.</summary>
    Service,

    /// <summary>Only the plugin itself, under its lock; the service is never asked.</summary>
    Direct,
}
