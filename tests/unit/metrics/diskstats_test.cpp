// The diskstats collector: parsing /proc/diskstats lines of every kernel
// layout, node_exporter's default device exclusion, units, and the golden
// exposition of this machine's captured /proc/diskstats.
#include <unistd.h>

#include "metrics/collectors/diskstats.h"
#include "support.h"

using namespace rampart::metrics;

TEST_CASE("diskstatsExcluded: partitions, loop, ram and fd go; whole disks stay") {
  for (const char* name : {"sda1", "sdz12", "hda3", "vda1", "xvda2", "loop0", "loop17", "ram0",
                           "fd0", "nvme0n1p1", "nvme12n3p45"})
    CHECK(diskstatsExcluded(name));
  for (const char* name : {"sda", "vda", "xvda", "nvme0n1", "zram0", "dm-0", "md127", "sr0",
                           "mmcblk0", "mmcblk0p1", "loop", "sdaa1", "nvme0n1p", "nvmen1p1",
                           "nvme0np1", ""})
    CHECK_FALSE(diskstatsExcluded(name));
}

TEST_CASE("parseDiskstats: 11, 15 and 17 columns kept; torn, garbage, repeated and excluded lines dropped") {
  auto disks = parseDiskstats(
      "   8       0 sda 10 1 2048 30 20 2 4096 40 3 50 70\n"                         // 4.17: 11
      "   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1\n"                                    // partition
      " 254       0 vda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"                       // 4.18: 15
      " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 18446744073709551615\n"
      " 253       0 dm-0 1 2 3 4 5 6 7 8 9 10\n"                                     // torn: 10
      " 253       1 dm-1 1 2 x 4 5 6 7 8 9 10 11\n"                                  // garbage
      "   8       0 sda 99 99 99 99 99 99 99 99 99 99 99\n"                          // repeat
      "   7       0 loop0 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5\n"
      "   9       0 md0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19");          // 5.x+: 19
  REQUIRE(disks.size() == 4);
  CHECK(disks[0].device == "sda");
  CHECK(disks[0].count == 11);
  CHECK(disks[0].values[0] == 10);  // the first sda line, not the repeat
  CHECK(disks[1].device == "vda");
  CHECK(disks[1].count == 15);
  CHECK(disks[2].device == "nvme0n1");
  CHECK(disks[2].count == 17);
  CHECK(disks[2].values[16] == UINT64_MAX);
  CHECK(disks[3].device == "md0");
  CHECK(disks[3].count == 17);  // columns past the known seventeen are ignored
  CHECK(parseDiskstats("").empty());
}

TEST_CASE("diskstats collector: bytes are sectors x 512, seconds are ms / 1000, discards only where the kernel has them") {
  std::string dir = std::filesystem::temp_directory_path() /
                    ("rampart-diskstats-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/diskstats") << "   8 0 sda 10 1 2048 30 20 2 4096 40 3 50 70\n"
                                       " 254 0 vda 1 2 3 4 5 6 7 8 9 1500 11 12 13 14 15\n";
  std::filesystem::create_directories(dir + "/udev");
  std::ofstream(dir + "/udev/b8:0") << "S:disk/by-id/ata-X\nE:ID_MODEL=Disk_\"1\"\nE:ID_SERIAL_SHORT=S1\n"
                                       "E:ID_PATH=pci-0000:00:1f.2-ata-1\nE:ID_WWN=0x5000\nE:ID_REVISION=1B6Q\n";
  DiskstatsCollector collector(dir, dir + "/udev");
  std::string text = test::render(test::collectOk(collector));
  std::filesystem::remove_all(dir);
  CHECK_THAT(text, Catch::Contains("node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"Disk_\\\"1\\\"\","
                                   "path=\"pci-0000:00:1f.2-ata-1\",revision=\"1B6Q\",serial=\"S1\",wwn=\"0x5000\"} 1\n"));
  // No udev entry: the text labels are empty.
  CHECK_THAT(text, Catch::Contains("node_disk_info{device=\"vda\",major=\"254\",minor=\"0\",model=\"\",path=\"\","
                                   "revision=\"\",serial=\"\",wwn=\"\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("node_disk_read_bytes_total{device=\"sda\"} 1048576\n"));
  CHECK_THAT(text, Catch::Contains("node_disk_written_bytes_total{device=\"sda\"} 2097152\n"));
  CHECK_THAT(text, Catch::Contains("node_disk_io_time_seconds_total{device=\"vda\"} 1.5\n"));
  CHECK_THAT(text, Catch::Contains("node_disk_reads_completed_total{device=\"sda\"} 10\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE node_disk_io_now gauge\n"));
  CHECK_THAT(text, Catch::Contains("node_disk_discards_completed_total{device=\"vda\"} 12\n"));
  CHECK_THAT(text, !Catch::Contains("node_disk_discards_completed_total{device=\"sda\"}"));
  CHECK_THAT(text, !Catch::Contains("node_disk_flush_requests_total"));
}

TEST_CASE("diskstats collector: a missing /proc/diskstats fails the collector") {
  Families out;
  CHECK_FALSE(DiskstatsCollector("/nonexistent-rampart-root").collectInto(out));
  CHECK(out.empty());
}

TEST_CASE("parseUdevData: ID_ keys of E: lines; SCSI_IDENT_SERIAL when there is no ID_SERIAL_SHORT") {
  DiskUdevInfo info = parseUdevData("E:ID_MODEL=M\nS:ID_PATH=not-an-E-line\nE:SCSI_IDENT_SERIAL=scsi\nE:broken\n");
  CHECK(info.model == "M");
  CHECK(info.path.empty());
  CHECK(info.serial == "scsi");
  CHECK(parseUdevData("E:SCSI_IDENT_SERIAL=scsi\nE:ID_SERIAL_SHORT=short\n").serial == "short");
}

TEST_CASE("golden: diskstats on this machine's captured /proc") {
  test::checkGolden("diskstats", test::render(test::collectOk(DiskstatsCollector(
                                     test::procFixture("real"), test::sourceDir() + "/tests/fixtures/udev/data"))));
}
