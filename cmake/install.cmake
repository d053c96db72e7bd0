# What `cmake --install` (and the Debian packages, debian/rules) installs: the programs, their
# man pages, bash completions and systemd units. Configuration files are the packager's.
include(GNUInstallDirs)
set(MARGO_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH "where systemd units go")

install(TARGETS wfmd DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS wfmctl margo-agent DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES man/wfmctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES man/margo-agent.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES man/wfmd.8 man/margo-agent.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES completions/wfmctl completions/margo-agent
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES systemd/wfmd.service systemd/margo-agent.service
        DESTINATION ${MARGO_SYSTEMD_UNITDIR})
