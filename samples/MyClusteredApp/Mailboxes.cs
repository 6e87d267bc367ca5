using System.Text;
using LibCluster.Messaging;

namespace MyClusteredApp;

/// <summary>The app's named mailboxes: "ping" answers round trips, "messages" records broadcasts.</summary>
internal sealed class Mailboxes(ICluster cluster, MessageLog log) : IHostedService
{
    public const string Ping = "ping";
    public const string Messages = "messages";

    private readonly List<IDisposable> _registrations = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registrations.Add(cluster.Register(Ping, (message, ct) => message.ReplyAsync(Encoding.UTF8.GetBytes($"pong from {cluster.Self}"), ct)));
        _registrations.Add(cluster.Register(Messages, (message, _) =>
        {
            log.Add(message.From.Value, Encoding.UTF8.GetString(message.Payload.Span));
            return ValueTask.CompletedTask;
        }));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _registrations.ForEach(r => r.Dispose());
        _registrations.Clear();
        return Task.CompletedTask;
    }
}

/// <summary>The last broadcasts this node received (bounded).</summary>
internal sealed class MessageLog(TimeProvider time)
{
    private const int Capacity = 100;
    private readonly Queue<ReceivedMessage> _messages = new();

    public void Add(string from, string text)
    {
        lock (_messages)
        {
            if (_messages.Count == Capacity)
            {
                _messages.Dequeue();
            }

            _messages.Enqueue(new ReceivedMessage(from, text, time.GetUtcNow()));
        }
    }

    public ReceivedMessage[] Snapshot()
    {
        lock (_messages)
        {
            return [.. _messages];
        }
    }
}
