using System.Reflection;
using System.Runtime.ExceptionServices;
using ChatWire.Storage.Messages;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Client.Tests.Infrastructure;

// The test server's real message store with one kind of call taken over by the test: Intercept answers the calls it
// wants (non-null) and every other call goes straight to the store. For races no configuration can produce: a read
// held while something happens live, an answer held after the write committed.
// Not sealed: DispatchProxy derives the proxy type from it.
#pragma warning disable CA1852
internal class MessageStoreProxy : DispatchProxy
#pragma warning restore CA1852
{
    /// <summary>Given the real store, the method called and its arguments: the result to return instead, or null.</summary>
    internal delegate object? Intercept(IMessageStore store, MethodInfo method, object?[] args);

    private IMessageStore _inner = null!;
    private Intercept _intercept = null!;

    // Replaces the server's IMessageStore registration with the proxy over the store it would have made.
    public static void Replace(IServiceCollection services, Intercept intercept)
    {
        var original = services.Last(d => d.ServiceType == typeof(IMessageStore));
        services.AddSingleton(sp =>
        {
            var proxy = Create<IMessageStore, MessageStoreProxy>();
            var self = (MessageStoreProxy)(object)proxy;
            self._inner = (IMessageStore)original.ImplementationFactory!(sp);
            self._intercept = intercept;
            return proxy;
        });
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (_intercept(_inner, targetMethod!, args ?? []) is { } taken)
        {
            return taken;
        }

        try
        {
            return targetMethod!.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}
