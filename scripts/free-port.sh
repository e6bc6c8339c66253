# Sourced by the scripts that start servers on loopback (services.sh, check-tls.sh); defines free_port.
#
# free_port prints a loopback port nothing listens on (checked by connecting; a refused connection means free),
# below the kernel's ephemeral range: a port in that range can be taken by an outgoing connection of the busy test
# suite between the check and the server's bind (s3rver once failed with EADDRINUSE so), and that connection would
# not show here. It returns 1, saying so on stderr, when 200 tries found none. Two calls may print the same port:
# a caller that needs several distinct ones compares them.
free_port() {
  local port ephemeral_low
  ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 1 200); do
    if [ "$ephemeral_low" -gt 11024 ]; then
      port=$(( 10000 + RANDOM % (ephemeral_low - 10000) ))
    else
      # An ephemeral range that starts this low leaves no room below it: anywhere, as before.
      port=$(( 20000 + RANDOM % 30000 ))
    fi
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free loopback port found" >&2
  return 1
}
