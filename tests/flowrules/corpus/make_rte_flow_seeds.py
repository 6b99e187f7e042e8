# Writes the seed corpus of flowrules_rte_flow_fuzz (run from the repository root). The format
# is the one rte_flow_fuzz.cc decodes: attr (group, priority BE32, direction bits), items
# (count, then per item: type index, flags 1=spec 2=mask, length-prefixed buffers), actions.
import struct, os
I = dict(END=0,VOID=1,ETH=2,VLAN=3,IPV4=4,IPV6=5,ICMP=6,UDP=7,TCP=8,VXLAN=9,ICMP6=10,MARK=11,TAG=12,REPRESENTED_PORT=13)
A = dict(END=0,VOID=1,DROP=2,COUNT=3,AGE=4,METER=5,VXLAN_ENCAP=6,VXLAN_DECAP=7,SET_MAC_SRC=8,SET_MAC_DST=9,DEC_TTL=10,REPRESENTED_PORT=11,PORT_REPRESENTOR=12,JUMP=13,MARK=14,QUEUE=15)
def buf(b): return bytes([len(b)]) + b
def item(name, spec=None, mask=None):
    flags = (1 if spec is not None else 0) | (2 if mask is not None else 0)
    out = bytes([I[name], flags])
    if spec is not None: out += buf(spec)
    if mask is not None: out += buf(mask)
    return out
def items(lst): return bytes([len(lst)]) + b''.join(lst)
def action(name, conf=None, definition=None):
    out = bytes([A[name], 1 if conf is not None else 0])
    if conf is not None:
        out += buf(conf)
        if name == 'VXLAN_ENCAP':
            out += bytes([1]) + items(definition)
    return out
def rule(group, prio, dirbits, its, acts):
    return struct.pack('>IIB', group, prio, dirbits) + items(its) + bytes([len(acts)]) + b''.join(acts)
ipv4 = lambda src, dst, ttl=0, proto=0: bytes([0x45,0,0,0,0,0,0,0,ttl,proto,0,0]) + bytes(src) + bytes(dst)
port = lambda p: struct.pack('<H', p)
seeds = {
 'udp_dns': rule(0, 1, 4, [item('REPRESENTED_PORT', port(1), b'\xff\xff'), item('ETH'),
                            item('IPV4', ipv4([10,0,0,0],[10,0,0,2]), bytes(12)+bytes([255,255,255,0,255,255,255,255])),
                            item('UDP', b'\x00\x00\x00\x35', b'\x00\x00\xff\xff')],
                [action('COUNT'), action('AGE', struct.pack('<I', 30)), action('REPRESENTED_PORT', port(0))]),
 'vxlan_decap': rule(2, 0, 4, [item('REPRESENTED_PORT', port(0), b'\xff\xff'), item('ETH'), item('IPV4'), item('UDP'),
                      item('VXLAN', b'\x08\x00\x00\x00\x00\x00\x2a\x00', b'\x00\x00\x00\x00\xff\xff\xff\x00'),
                      item('ETH'), item('IPV6'), item('TCP', b'\x00\x00\x00\x50', b'\x00\x00\xff\xff')],
                [action('VXLAN_DECAP'), action('SET_MAC_DST', bytes([2,0,0,0,0,9])), action('PORT_REPRESENTOR', port(3))]),
 'vxlan_encap': rule(0, 2, 4, [item('REPRESENTED_PORT', port(1), b'\xff\xff'), item('ETH', bytes([2,0,0,0,0,1])+bytes(6)+b'\x08\x00')],
                [action('COUNT'), action('VXLAN_ENCAP', b'', [item('ETH', bytes([2,0,0,0,0,2,2,0,0,0,0,1,8,0])),
                   item('IPV4', ipv4([192,168,0,1],[192,168,0,2], 64, 17)), item('UDP', b'\xc0\x00\x12\xb5'),
                   item('VXLAN', b'\x08\x00\x00\x00\x00\x00\x2a\x00')]),
                 action('REPRESENTED_PORT', port(0))]),
 'ingress_queue': rule(5, 7, 1, [item('IPV6'), item('ICMP6'), item('MARK', struct.pack('<I', 7)), item('TAG', struct.pack('<IB', 9, 2), struct.pack('<IB', 0xffffffff, 0xff))],
                [action('MARK', struct.pack('<I', 9)), action('METER', struct.pack('<I', 1)), action('DEC_TTL'), action('QUEUE', port(3))]),
 'egress_jump': rule(0, 0, 2, [item('ETH', bytes(12)+b'\x81\x00', bytes(12)+b'\xff\xff'), item('VLAN', b'\x00\x64\x08\x00', b'\x0f\xff\xff\xff'), item('IPV4'), item('ICMP', b'\x08\x00', b'\xff\x00')],
                [action('SET_MAC_SRC', bytes(6)), action('JUMP', struct.pack('<I', 3))]),
}
d = 'tests/flowrules/corpus/rte_flow'
for k, v in seeds.items():
    open(os.path.join(d, k), 'wb').write(v)
