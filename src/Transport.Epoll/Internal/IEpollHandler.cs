namespace EpollTransport.Internal;

/// <summary>
/// Something registered with an <see cref="EpollThread"/>: a listening socket or a connection.
/// </summary>
internal interface IEpollHandler
{
    /// <summary>
    /// The registration's token, set once by <see cref="EpollSlotTable.Add"/> when it is registered. The epoll thread compares it
    /// with the token an event carries, so an event queued for a socket that has since been
    /// unregistered (and whose slot was reused) is dropped instead of reaching the wrong handler.
    /// </summary>
    ulong Token { get; set; }

    /// <summary>Handles the events epoll reported. Called on the epoll thread only.</summary>
    void OnEvents(uint events);
}
