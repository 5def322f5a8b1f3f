#include "tandem/util/cpu_threads.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>

#include "test_support.h"

namespace tandem::util {
namespace {

TEST(CpuThreadsTest, CgroupV2QuotaOfTheProcessGroupAndItsAncestors) {
  const std::string root = test::temp_dir();
  std::filesystem::create_directories(root + "/a/b");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/\n"), 0);  // no file: no quota
  test::write_file(root + "/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/\n"), 0);  // "max": no quota
  test::write_file(root + "/a/cpu.max", "300000 100000\n");
  test::write_file(root + "/a/b/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/a/b\n"), 3);  // the parent's quota holds for the child
  test::write_file(root + "/a/b/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/a/b\n"), 2);  // 1.5 CPUs: two threads
}

TEST(CpuThreadsTest, CgroupV1Quota) {
  const std::string root = test::temp_dir();
  std::filesystem::create_directories(root + "/cpu,cpuacct/job");
  const std::string self = "4:memory:/job\n3:cpu,cpuacct:/job\n";
  test::write_file(root + "/cpu,cpuacct/job/cpu.cfs_quota_us", "-1\n");
  test::write_file(root + "/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root, self), 0);
  test::write_file(root + "/cpu,cpuacct/job/cpu.cfs_quota_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root, self), 1);
}

TEST(CpuThreadsTest, AllCoresMeansTheCoresOfTheAffinityMask) {
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof(before), &before), 0);
  int first = 0;
  while (!CPU_ISSET(first, &before)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);  // as `taskset -c FIRST` would
  const int resolved = resolve_cpu_threads(0);
  const int available = available_cpus();
  ASSERT_EQ(sched_setaffinity(0, sizeof(before), &before), 0);
  EXPECT_EQ(resolved, 1);
  EXPECT_EQ(available, 1);
  EXPECT_EQ(resolve_cpu_threads(5), 5);  // an explicit count is taken as it is
  EXPECT_GE(available_cpus(), 1);
  EXPECT_LE(available_cpus(), CPU_COUNT(&before));
}

}  // namespace
}  // namespace tandem::util
